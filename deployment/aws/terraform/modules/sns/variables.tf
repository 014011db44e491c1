variable "name" {
  type        = string
  description = "Name of the alert topic."
}

variable "email_addresses" {
  type        = list(string)
  description = "Addresses subscribed to the topic; each must confirm the e-mail AWS sends."
  default     = []

  validation {
    condition     = alltrue([for address in var.email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "Every entry of email_addresses must be an e-mail address."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts messages at rest (its policy lets CloudWatch use it)."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
