variable "name" {
  type        = string
  description = "Name prefix of the environment (project-environment); role names start with it."
}

variable "services" {
  type = map(object({
    secret_arns            = list(string)
    read_write_bucket_arns = list(string)
    log_group_arns         = list(string)
  }))
  description = "One execution role and one task role per service key: the secrets its container reads, the buckets it reads and writes, and the log groups its containers write to."
}

variable "ecr_repository_arns" {
  type        = list(string)
  description = "Repositories the execution roles pull from and the deploy role pushes to."
}

variable "kms_key_arn" {
  type        = string
  description = "Environment key that encrypts secrets, buckets and images."
}

variable "enable_execute_command" {
  type        = bool
  description = "Grant the task roles the SSM channels ECS Exec needs."
  default     = false
}

variable "exec_log_group_arn" {
  type        = string
  description = "Log group ECS Exec sessions are recorded in (task roles write to it when enable_execute_command is on)."
  default     = null
}

variable "cluster_name" {
  type        = string
  description = "ECS cluster the deploy role may update services in."
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose workflows may assume the deploy role; null creates no deploy role."
  default     = null

  validation {
    condition     = var.github_repository == null || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "github_subjects" {
  type        = list(string)
  description = "OIDC subject claims (repo:<owner>/<name>:environment:<env> or :ref:<ref>) the deploy role trusts; modules/github-oidc-subjects computes them."
  default     = []
}

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's GitHub OIDC identity provider; false uses the existing one (one per account)."
  default     = true
}

variable "codedeploy_applications" {
  type        = list(string)
  description = "CodeDeploy applications (each with a deployment group of the same name) the deploy role may create blue-green deployments in."
  default     = []
}

variable "smoke_test_secret_arns" {
  type        = list(string)
  description = "Secrets the deploy role may read to run smoke tests (the API key)."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
