variable "name" {
  type        = string
  description = "Name prefix of the environment; secrets are named <name>/<key>."
}

variable "descriptions" {
  type        = map(string)
  description = "Secrets to create: key => what the secret holds. Keys are not sensitive, so they can drive for_each."
}

variable "values" {
  type        = map(string)
  description = "Secret values by the same keys as descriptions."
  sensitive   = true
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the secrets."
}

variable "recovery_window_in_days" {
  type        = number
  description = "Days a deleted secret can be restored (0 deletes at once, for throw-away environments)."
  default     = 30

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
