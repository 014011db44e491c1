variable "data_bucket_name" {
  type        = string
  description = "Name of the bucket for transactions, features, predictions and reports (FRAUDOPS_DATA_URI)."
}

variable "artifacts_bucket_name" {
  type        = string
  description = "Name of the bucket for MLflow artifacts (models, plots, reports)."
}

variable "logs_bucket_name" {
  type        = string
  description = "Name of the bucket that receives load balancer and S3 server access logs."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the data and artifact buckets."
}

variable "archive_transition_days" {
  type        = number
  description = "Days after which current objects move to the archive storage class."
  default     = 90

  validation {
    condition     = var.archive_transition_days >= 30
    error_message = "archive_transition_days must be at least 30: recent data is read by training and monitoring every day."
  }
}

variable "archive_storage_class" {
  type        = string
  description = "Archive storage class: GLACIER_IR keeps objects readable at once, GLACIER and DEEP_ARCHIVE need a restore."
  default     = "GLACIER_IR"

  validation {
    condition     = contains(["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.archive_storage_class)
    error_message = "archive_storage_class must be GLACIER_IR, GLACIER or DEEP_ARCHIVE."
  }
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days a replaced or deleted object version is kept before it is removed."
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days > 30
    error_message = "noncurrent_version_expiration_days must be above 30 (old versions are archived on day 30)."
  }
}

variable "logs_expiration_days" {
  type        = number
  description = "Days access logs are kept."
  default     = 90
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy delete buckets that still hold objects (for throw-away environments only)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
