variable "name" {
  type        = string
  description = "Name prefix of the environment (project-environment)."
}

variable "cluster_arn" {
  type        = string
  description = "ECS cluster the agent runs in."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the agent and the API."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the agent task."
}

variable "api_security_group_id" {
  type        = string
  description = "Security group of the API tasks (the agent is let in on metrics_port)."
}

variable "api_dns_name" {
  type        = string
  description = "Service discovery name of the API (api.<namespace>): one A record per task."
}

variable "metrics_port" {
  type        = number
  description = "Port the API serves Prometheus metrics on in production (FRAUDOPS_METRICS_PORT, 9464 by default)."
  default     = 9464
}

variable "metric_namespace" {
  type        = string
  description = "CloudWatch namespace of the published metrics."
}

variable "metrics" {
  type = list(object({
    name       = string
    dimensions = list(string)
  }))
  description = "Prometheus series published to CloudWatch, with the labels kept as dimensions."
}

variable "agent_image" {
  type        = string
  description = "CloudWatch agent image (pinned; AWS publishes it on the public ECR gallery)."
  default     = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300059.0b1207"

  validation {
    condition     = !endswith(var.agent_image, ":latest")
    error_message = "Pin agent_image to a version tag, not latest."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Environment key that encrypts the agent's log groups."
}

variable "log_retention_days" {
  type        = number
  description = "Days the agent's logs and metric records are kept."
  default     = 7
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
