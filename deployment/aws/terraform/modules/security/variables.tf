variable "name" {
  type        = string
  description = "Name prefix of the environment (project-environment)."
}

variable "vpc_id" {
  type        = string
  description = "VPC the security groups belong to."
}

variable "ingress_cidr_blocks" {
  type        = list(string)
  description = "CIDRs allowed to reach the API on ports 80/443."

  validation {
    condition     = alltrue([for cidr in var.ingress_cidr_blocks : can(cidrhost(cidr, 0))])
    error_message = "Every entry of ingress_cidr_blocks must be an IPv4 CIDR."
  }
}

variable "admin_cidr_blocks" {
  type        = list(string)
  description = "CIDRs allowed to reach the MLflow and Airflow listeners; empty closes them."

  validation {
    condition     = alltrue([for cidr in var.admin_cidr_blocks : can(cidrhost(cidr, 0))])
    error_message = "Every entry of admin_cidr_blocks must be an IPv4 CIDR."
  }
}

variable "api_port" {
  type        = number
  description = "Port the API container listens on."
  default     = 8000
}

variable "mlflow_port" {
  type        = number
  description = "Port the MLflow container listens on (and its load balancer listener)."
  default     = 5000
}

variable "airflow_port" {
  type        = number
  description = "Port the Airflow API server listens on (and its load balancer listener)."
  default     = 8080
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
