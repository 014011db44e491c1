variable "name" {
  type        = string
  description = "Name prefix of the environment (project-environment); the key alias is alias/<name>."
}

variable "deletion_window_in_days" {
  type        = number
  description = "Days AWS waits before deleting the key after it is scheduled for deletion."
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
