variable "name" {
  type        = string
  description = "Name of the load balancer (at most 32 characters)."

  validation {
    condition     = length(var.name) <= 32
    error_message = "A load balancer name has at most 32 characters."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the target groups."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Public subnets (two zones at least)."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the load balancer."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate for HTTPS; null serves plain HTTP (development only)."
  default     = null
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the HTTPS listeners."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the load balancer until this is turned off."
  default     = true
}

variable "idle_timeout" {
  type        = number
  description = "Seconds an idle connection is kept open."
  default     = 60
}

variable "access_logs_bucket" {
  type        = string
  description = "Bucket that receives access logs."
}

variable "access_logs_prefix" {
  type        = string
  description = "Prefix of the access logs in the bucket."
  default     = "alb"
}

variable "target_groups" {
  type = map(object({
    port                 = number
    health_check_path    = string
    health_check_matcher = optional(string, "200")
    listener_port        = optional(number)
    deregistration_delay = optional(number, 30)
  }))
  description = "Target groups by key. The one without listener_port is the default of ports 80/443; the others get a listener of their own on listener_port."

  validation {
    condition     = length([for group in values(var.target_groups) : group if group.listener_port == null]) == 1
    error_message = "Exactly one target group must leave listener_port unset (it serves ports 80/443)."
  }
}

variable "blocked_paths" {
  type        = list(string)
  description = "Path patterns the public listener answers 404 for instead of forwarding (internal endpoints such as /metrics); at most 5."
  default     = ["/metrics"]

  validation {
    condition     = length(var.blocked_paths) <= 5
    error_message = "A listener rule condition takes at most 5 path patterns."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
