variable "name" {
  type        = string
  description = "Name of the ECS service deployed blue-green (<project>-<environment>-<key>); every resource name starts with it."
}

variable "cluster_name" {
  type        = string
  description = "ECS cluster of the service."
}

variable "service_name" {
  type        = string
  description = "ECS service (deployment controller CODE_DEPLOY) CodeDeploy deploys."
}

variable "container_name" {
  type        = string
  description = "Container that receives traffic (and that the smoke task overrides)."
}

variable "task_definition_family" {
  type        = string
  description = "Task definition family of the service: the smoke task runs its latest revision, the one being deployed (green)."
}

variable "pass_role_arns" {
  type        = list(string)
  description = "Execution and task roles of the task definition (the hook passes them to ECS when it starts the smoke task)."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the load balancer and the tasks."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the smoke task runs in (their NAT gateways reach the load balancer)."
}

variable "load_balancer_arn" {
  type        = string
  description = "Load balancer that carries the production and test listeners."
}

variable "alb_arn_suffix" {
  type        = string
  description = "ARN suffix of the load balancer (CloudWatch dimension of the rollback alarms)."
}

variable "alb_security_group_id" {
  type        = string
  description = "Security group of the load balancer (the test listener's port is opened on it)."
}

variable "production_listener_arn" {
  type        = string
  description = "Listener whose traffic CodeDeploy shifts from blue to green."
}

variable "blue_target_group" {
  type = object({
    name              = string
    arn               = string
    arn_suffix        = string
    port              = number
    health_check_path = string
  })
  description = "The service's original target group (created by the alb module); the green one copies its port and health check."
}

variable "public_base_url" {
  type        = string
  description = "Scheme and host of the production listener (https://fraud.example.com); the test listener is the same host on test_listener_port."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate of the test listener (the production listener's); null serves it over plain HTTP."
  default     = null
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the test listener."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "test_listener_port" {
  type        = number
  description = "Port of the test listener, which routes to the green task set before any production traffic does."
  default     = 8443

  validation {
    condition     = var.test_listener_port >= 1024 && var.test_listener_port <= 65535 && !contains([5000, 8080], var.test_listener_port)
    error_message = "test_listener_port must be 1024-65535 and not a port of another listener (5000, 8080)."
  }
}

variable "smoke_source_cidr_blocks" {
  type        = list(string)
  description = "Where the smoke tasks' traffic comes from (the NAT gateways' addresses, /32): let in on the test and production listeners, whatever ingress_cidr_blocks allows."
}

variable "admin_cidr_blocks" {
  type        = list(string)
  description = "Admins who may also try the green task set on the test listener."
  default     = []
}

variable "traffic_shift" {
  type        = string
  description = "CodeDeploy deployment configuration: how production traffic moves to green (canary or linear; all-at-once skips the monitored window)."
  default     = "CodeDeployDefault.ECSCanary10Percent5Minutes"

  validation {
    condition = contains([
      "CodeDeployDefault.ECSCanary10Percent5Minutes",
      "CodeDeployDefault.ECSCanary10Percent15Minutes",
      "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
      "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
      "CodeDeployDefault.ECSAllAtOnce",
    ], var.traffic_shift)
    error_message = "traffic_shift must be one of CodeDeploy's predefined ECS configurations (ECSCanary10Percent5Minutes, ECSCanary10Percent15Minutes, ECSLinear10PercentEvery1Minutes, ECSLinear10PercentEvery3Minutes, ECSAllAtOnce)."
  }
}

variable "blue_termination_wait_minutes" {
  type        = number
  description = "Minutes the old (blue) task set keeps running after all traffic reached green: an alarm in that window still rolls back in seconds."
  default     = 15

  validation {
    condition     = var.blue_termination_wait_minutes >= 0 && var.blue_termination_wait_minutes <= 2880
    error_message = "blue_termination_wait_minutes must be between 0 and 2880 (two days)."
  }
}

variable "http_5xx_rate_threshold_percent" {
  type        = number
  description = "Share of 5xx answers (blue and green together) that stops the deployment and rolls back."
  default     = 1
}

variable "latency_p99_threshold_seconds" {
  type        = number
  description = "p99 response time of either task set that stops the deployment and rolls back."
  default     = 0.5
}

variable "smoke_timeout_seconds" {
  type        = number
  description = "Seconds `fraudops smoke` waits for readiness inside the smoke task."
  default     = 120
}

variable "notification_topic_arn" {
  type        = string
  description = "SNS topic that receives deployment start, success, failure, stop and rollback, and the rollback alarms."
}

variable "kms_key_arn" {
  type        = string
  description = "Environment key: encrypts the hook logs and environment, and the notification topic."
}

variable "log_retention_days" {
  type        = number
  description = "Days the hook logs are kept."
  default     = 30
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
