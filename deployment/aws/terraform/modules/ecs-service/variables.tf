variable "name" {
  type        = string
  description = "Name of the ECS service; also the task definition family."

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,254}$", var.name))
    error_message = "name must start with a letter and contain only letters, digits, hyphens and underscores."
  }
}

variable "container_name" {
  type        = string
  description = "Name of the container in the task definition (the CD workflow renders the image into it)."
}

variable "cluster_arn" {
  type        = string
  description = "ARN of the ECS cluster."
}

variable "cluster_name" {
  type        = string
  description = "Name of the ECS cluster (used in the autoscaling resource ID)."
}

variable "image" {
  type        = string
  description = "Container image with its tag, for example 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraudops-api:<sha>."
}

variable "cpu" {
  type        = number
  description = "Task CPU units (256 = 0.25 vCPU)."

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  type        = number
  description = "Task memory in MiB; must be a valid Fargate pairing with cpu."

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture the image is built for."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "container_port" {
  type        = number
  description = "Port the container listens on; null for a worker without one."
  default     = null
}

variable "command" {
  type        = list(string)
  description = "Command that overrides the image's CMD; null keeps the image's."
  default     = null
}

variable "entrypoint" {
  type        = list(string)
  description = "Entrypoint that overrides the image's ENTRYPOINT; null keeps the image's."
  default     = null
}

variable "environment" {
  type        = map(string)
  description = "Plain environment variables (never secrets)."
  default     = {}
}

variable "secrets" {
  type        = map(string)
  description = "Environment variables filled from Secrets Manager: variable name => secret ARN (or ARN:json-key::)."
  default     = {}
}

variable "execution_role_arn" {
  type        = string
  description = "Role ECS uses to pull the image, write logs and read the secrets."
}

variable "task_role_arn" {
  type        = string
  description = "Role the application runs as."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the tasks run in."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the tasks."
}

variable "log_group_name" {
  type        = string
  description = "CloudWatch log group the container writes to."
}

variable "aws_region" {
  type        = string
  description = "Region of the log group."
}

variable "desired_count" {
  type        = number
  description = "Tasks started when the service is created (autoscaling owns the count afterwards)."
  default     = 1

  validation {
    condition     = var.desired_count >= 0
    error_message = "desired_count cannot be negative."
  }
}

variable "capacity_provider_strategy" {
  type = list(object({
    capacity_provider = string
    weight            = number
    base              = optional(number, 0)
  }))
  description = "Fargate capacity providers and their weights (FARGATE, FARGATE_SPOT)."
  default     = [{ capacity_provider = "FARGATE", weight = 1, base = 0 }]

  validation {
    condition     = length(var.capacity_provider_strategy) > 0 && alltrue([for item in var.capacity_provider_strategy : contains(["FARGATE", "FARGATE_SPOT"], item.capacity_provider)])
    error_message = "capacity_provider_strategy needs at least one entry, each FARGATE or FARGATE_SPOT."
  }
}

variable "target_group_arn" {
  type        = string
  description = "Load balancer target group the container port registers in; null for a service without one."
  default     = null
}

variable "health_check_grace_period_seconds" {
  type        = number
  description = "Seconds the load balancer health check is ignored after a task starts (model loading)."
  default     = 60
}

variable "container_health_check" {
  type = object({
    command      = list(string)
    interval     = optional(number, 30)
    timeout      = optional(number, 5)
    retries      = optional(number, 3)
    start_period = optional(number, 60)
  })
  description = "Docker health check run inside the container; null keeps the image's HEALTHCHECK."
  default     = null
}

variable "deployment_controller" {
  type        = string
  description = "ECS (rolling, circuit breaker) or CODE_DEPLOY (blue-green through modules/codedeploy-blue-green; needs target_group_arn). Changing it replaces the service."
  default     = "ECS"

  validation {
    condition     = contains(["ECS", "CODE_DEPLOY"], var.deployment_controller)
    error_message = "deployment_controller must be ECS or CODE_DEPLOY."
  }
}

variable "deployment_minimum_healthy_percent" {
  type        = number
  description = "Lowest share of desired tasks kept running during a deployment."
  default     = 100
}

variable "deployment_maximum_percent" {
  type        = number
  description = "Highest share of desired tasks running during a deployment."
  default     = 200
}

variable "stop_timeout" {
  type        = number
  description = "Seconds between SIGTERM and SIGKILL (lets requests in flight finish)."
  default     = 30

  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "stop_timeout must be between 2 and 120 seconds on Fargate."
  }
}

variable "readonly_root_filesystem" {
  type        = bool
  description = "Mount the container's root filesystem read-only; scratch_paths stay writable."
  default     = true
}

variable "scratch_paths" {
  type        = list(string)
  description = "Writable task-storage paths inside the container (for example /tmp)."
  default     = ["/tmp"]
}

variable "enable_execute_command" {
  type        = bool
  description = "Allow `aws ecs execute-command` into running tasks (audited in the cluster's exec log)."
  default     = false
}

variable "service_discovery_namespace_id" {
  type        = string
  description = "Private DNS namespace to register the tasks in; null for none."
  default     = null
}

variable "service_discovery_name" {
  type        = string
  description = "Name in the namespace (<name>.<namespace>); defaults to the container name."
  default     = null
}

variable "enable_autoscaling" {
  type        = bool
  description = "Scale the task count on CPU and memory utilisation."
  default     = false
}

variable "min_capacity" {
  type        = number
  description = "Fewest tasks when autoscaling."
  default     = 1
}

variable "max_capacity" {
  type        = number
  description = "Most tasks when autoscaling."
  default     = 1
}

variable "cpu_target_percent" {
  type        = number
  description = "Average CPU utilisation autoscaling keeps the service at: the share of a task's measured capacity (req/s per vCPU x vCPUs) it runs at, the rest being burst headroom while a new task starts (see api_cpu_target_percent and the sizing rule in DEPLOYMENT_GUIDE.md)."
  default     = 70

  validation {
    condition     = var.cpu_target_percent > 0 && var.cpu_target_percent <= 100
    error_message = "cpu_target_percent must be in (0, 100]."
  }
}

variable "memory_target_percent" {
  type        = number
  description = "Average memory utilisation autoscaling keeps the service at."
  default     = 80

  validation {
    condition     = var.memory_target_percent > 0 && var.memory_target_percent <= 100
    error_message = "memory_target_percent must be in (0, 100]."
  }
}

variable "scale_out_cooldown_seconds" {
  type        = number
  description = "Seconds after a scale-out before another scaling activity."
  default     = 60
}

variable "scale_in_cooldown_seconds" {
  type        = number
  description = "Seconds after a scale-in before another scaling activity."
  default     = 300
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
