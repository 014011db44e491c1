variable "name" {
  type        = string
  description = "Name of the dashboard (project-environment)."
}

variable "cluster_name" {
  type        = string
  description = "ECS cluster of the services."
}

variable "service_names" {
  type        = list(string)
  description = "ECS services whose task counts and CPU are shown."
}

variable "alb_arn_suffix" {
  type        = string
  description = "ARN suffix of the load balancer (CloudWatch dimension)."
}

variable "api_target_group_arn_suffixes" {
  type        = list(string)
  description = "Target groups of the API (blue, and green when it is deployed blue-green)."
}

variable "database_instance_id" {
  type        = string
  description = "Identifier of the RDS instance."
}

variable "redis_replication_group_id" {
  type        = string
  description = "ElastiCache replication group of the online store (its nodes are <id>-001, -002, ...)."
}

variable "alarm_names" {
  type        = list(string)
  description = "Alarms shown in the alarm status widget (at most 100)."
  default     = []
}

variable "business_metric_namespace" {
  type        = string
  description = "CloudWatch namespace of the API's own metrics (modules/metrics-agent); null leaves out the decision and drift widgets."
  default     = null
}
