variable "repository_names" {
  type        = list(string)
  description = "Repositories to create or look up, for example [\"fraudops-api\", \"fraudops-mlflow\", \"fraudops-airflow\"]."

  validation {
    condition     = alltrue([for name in var.repository_names : can(regex("^[a-z0-9][a-z0-9._/-]{1,255}$", name))])
    error_message = "Repository names are lowercase letters, digits and . _ / - (2 to 256 characters)."
  }
}

variable "create" {
  type        = bool
  description = "Create the repositories; false looks up existing ones (a second environment in the same account shares them)."
  default     = true
}

variable "image_tag_mutability" {
  type        = string
  description = "IMMUTABLE refuses to move a tag once pushed (a deployed SHA always means the same image)."
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["IMMUTABLE", "MUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be IMMUTABLE or MUTABLE."
  }
}

variable "max_tagged_images" {
  type        = number
  description = "Tagged images kept per repository; older ones are expired by the lifecycle policy."
  default     = 50
}

variable "untagged_expiry_days" {
  type        = number
  description = "Days after which untagged images (superseded layers) are expired."
  default     = 7
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the images."
}

variable "force_delete" {
  type        = bool
  description = "Let terraform destroy delete repositories that still hold images."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
