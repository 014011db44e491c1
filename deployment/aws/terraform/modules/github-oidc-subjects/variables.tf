variable "repository" {
  type        = string
  description = "GitHub repository (owner/name); null trusts nobody (no deploy role is made)."
  default     = null
}

variable "environment" {
  type        = string
  description = "GitHub environment whose jobs may deploy (the same name as the Terraform environment)."
}

variable "branch" {
  type        = string
  description = "Branch whose jobs outside any environment may also assume the role (the image push); null for none, as in production."
  default     = null
}
