variable "name" {
  type        = string
  description = "Name prefix of the environment (project-environment)."
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC, a /16 to a /20."

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 20
    error_message = "cidr_block must be a valid IPv4 CIDR between /16 and /20."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones to spread the subnets over (two or three)."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3
    error_message = "Give two or three availability zones."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway shared by every private subnet (cheaper) instead of one per availability zone (survives a zone outage)."
  default     = false
}

variable "enable_flow_logs" {
  type        = bool
  description = "Send VPC flow logs (rejected and accepted traffic) to CloudWatch Logs."
  default     = true
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days to keep VPC flow logs."
  default     = 30
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the flow log group."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
