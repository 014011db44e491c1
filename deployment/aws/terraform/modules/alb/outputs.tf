output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer (CloudWatch dimension)."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "DNS name of the load balancer (point a CNAME or alias record at it)."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Hosted zone of the load balancer (for a Route 53 alias record)."
  value       = aws_lb.this.zone_id
}

output "scheme" {
  description = "URL scheme the listeners speak (https with a certificate, http without)."
  value       = local.tls ? "https" : "http"
}

output "target_group_arns" {
  description = "Target group ARN by key."
  value       = { for key, group in aws_lb_target_group.this : key => group.arn }
}

output "target_group_arn_suffixes" {
  description = "Target group ARN suffix by key (CloudWatch dimension)."
  value       = { for key, group in aws_lb_target_group.this : key => group.arn_suffix }
}

output "target_group_names" {
  description = "Target group name by key."
  value       = { for key, group in aws_lb_target_group.this : key => group.name }
}

output "production_listener_arn" {
  description = "Listener of the default target group's public traffic: HTTPS with a certificate, else HTTP on port 80."
  value       = local.tls ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
}
