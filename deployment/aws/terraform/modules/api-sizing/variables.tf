variable "requests_per_vcpu" {
  type        = number
  description = "R: single-transaction requests/s one API worker (one vCPU) serves, measured with benchmarks/bench_serving.py on the instance type and online store in use."

  validation {
    condition     = var.requests_per_vcpu > 0
    error_message = "requests_per_vcpu must be positive."
  }
}

variable "task_cpu" {
  type        = number
  description = "CPU units of one API task (1024 = 1 vCPU = one worker)."
}

variable "cpu_target_percent" {
  type        = number
  description = "Average CPU the target-tracking policy keeps; the rest is the burst margin while a new task starts."
}

variable "peak_requests_per_second" {
  type        = number
  description = "Expected peak requests/s (0: unknown, the configured maximum stands)."

  validation {
    condition     = var.peak_requests_per_second >= 0
    error_message = "peak_requests_per_second must not be negative."
  }
}

variable "min_count" {
  type        = number
  description = "Fewest API tasks."
}

variable "max_count" {
  type        = number
  description = "Most API tasks configured by hand; raised to what the peak needs."
}
