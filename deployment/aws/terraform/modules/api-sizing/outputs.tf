output "requests_per_task" {
  description = "Requests/s one task carries at the CPU target."
  value       = local.requests_per_task
}

output "tasks_for_peak" {
  description = "Tasks the peak needs at the CPU target (0 when no peak is given)."
  value       = local.tasks_for_peak
}

output "max_count" {
  description = "The autoscaling maximum: the configured one, the minimum, or what the peak needs, whichever is largest."
  value       = max(var.max_count, var.min_count, local.tasks_for_peak)
}
