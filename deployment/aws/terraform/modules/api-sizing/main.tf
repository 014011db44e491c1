# The sizing rule of deployment/DEPLOYMENT_GUIDE.md ("Sizing"): a task of V vCPUs runs
# V workers, each serving R requests/s; target tracking holds CPU at T %, so a task carries
# T/100 x R x V requests/s and the peak needs peak / that many tasks.
locals {
  vcpus             = var.task_cpu / 1024
  requests_per_task = var.cpu_target_percent / 100 * var.requests_per_vcpu * local.vcpus
  tasks_for_peak    = var.peak_requests_per_second > 0 ? ceil(var.peak_requests_per_second / local.requests_per_task) : 0
}
