variable "name" {
  type        = string
  description = "Name prefix of the environment (project-environment)."
}

variable "services" {
  type = map(object({
    service_name            = string
    target_group_arn_suffix = optional(string)
    http_alarms             = optional(bool, false)
  }))
  description = "Services by key: a log group /ecs/<name>/<key> each, CPU/memory/running-task alarms each, and 5xx-rate and latency alarms where http_alarms is true."
}

variable "extra_log_groups" {
  type        = list(string)
  description = "Keys of log groups for one-off tasks that have no service (for example db-init)."
  default     = []
}

variable "cluster_name" {
  type        = string
  description = "ECS cluster of the services."
}

variable "alb_arn_suffix" {
  type        = string
  description = "ARN suffix of the load balancer (CloudWatch dimension)."
}

variable "database_instance_id" {
  type        = string
  description = "Identifier of the RDS instance to watch; null skips the database alarms."
  default     = null
}

variable "redis_replication_group_id" {
  type        = string
  description = "Replication group of the online store's Redis (its nodes are <id>-001, -002, ...); null skips the Redis alarms."
  default     = null
}

variable "redis_nodes" {
  type        = number
  description = "Nodes in the Redis replication group: one engine-CPU alarm each."
  default     = 1
}

variable "redis_engine_cpu_threshold_percent" {
  type        = number
  description = "Redis engine-thread CPU above which its alarm fires (the online store's scripts run on that one thread)."
  default     = 70
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic that alarms and their recoveries are sent to."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the log groups."
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep container logs."
  default     = 30
}

variable "cpu_threshold_percent" {
  type        = number
  description = "Average service CPU above which the CPU alarm fires (autoscaling targets less)."
  default     = 85
}

variable "memory_threshold_percent" {
  type        = number
  description = "Average service memory above which the memory alarm fires."
  default     = 90
}

variable "http_5xx_rate_threshold_percent" {
  type        = number
  description = "Share of requests answered 5xx above which the error-rate alarm fires."
  default     = 1
}

variable "latency_p99_threshold_seconds" {
  type        = number
  description = "p99 target response time above which the latency alarm fires."
  default     = 0.5
}

variable "evaluation_periods" {
  type        = number
  description = "Consecutive one-minute periods a threshold must be breached before an alarm fires."
  default     = 5
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
