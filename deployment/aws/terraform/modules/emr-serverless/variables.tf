variable "name" {
  type        = string
  description = "Name of the application (and prefix of its job role)."
}

variable "release_label" {
  type        = string
  description = "EMR release of the application; emr-spark-8.0.0 runs Spark 4.0, the line of fraudops' pyspark."
}

variable "max_vcpu" {
  type        = number
  description = "Most vCPUs all running jobs of the application may hold at once."
}

variable "max_memory_gb" {
  type        = number
  description = "Most memory (GB) all running jobs of the application may hold at once."
}

variable "idle_timeout_minutes" {
  type        = number
  description = "Minutes without a job after which the application stops."
  default     = 15
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the jobs run in."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the jobs (they reach MLflow and S3)."
}

variable "image_uri" {
  type        = string
  description = "A custom image (EMR's Spark image plus Python 3.11 and fraudops), or empty for EMR's own image."
  default     = ""
}

variable "data_bucket_arn" {
  type        = string
  description = "The data bucket jobs read and write (transactions, features, scores, job code)."
}

variable "logs_bucket_name" {
  type        = string
  description = "The log bucket; jobs write only under log_prefix."
}

variable "log_prefix" {
  type        = string
  description = "Prefix of the job logs in the log bucket."
  default     = "emr-serverless"
}

variable "kms_key_arn" {
  type        = string
  description = "The environment's key, which encrypts the data bucket."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
