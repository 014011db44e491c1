variable "name" {
  type        = string
  description = "Name of the cluster (project-environment)."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the private DNS namespace the services register in."
}

variable "service_discovery_namespace" {
  type        = string
  description = "Private DNS namespace for service-to-service calls, for example fraudops-staging.internal."
}

variable "container_insights" {
  type        = string
  description = "Container Insights level: enhanced, enabled or disabled (the service-down alarm needs enabled or enhanced)."
  default     = "enabled"

  validation {
    condition     = contains(["enhanced", "enabled", "disabled"], var.container_insights)
    error_message = "container_insights must be enhanced, enabled or disabled."
  }
}

variable "enable_fargate_spot" {
  type        = bool
  description = "Make FARGATE_SPOT the cluster's default capacity after a FARGATE base of one task."
  default     = false
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for ECS Exec sessions and their log group."
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep ECS Exec session logs."
  default     = 30
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
