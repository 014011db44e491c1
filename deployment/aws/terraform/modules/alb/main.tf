# One internet-facing load balancer. Ports 80/443 serve the default target group (the
# API); the admin tools (MLflow, Airflow) get listeners on their own ports, which the
# security module opens to the admin CIDRs only. With a certificate every listener
# speaks TLS and port 80 only redirects.
locals {
  tls = var.certificate_arn != null

  default_group_key = one([for key, group in var.target_groups : key if group.listener_port == null])
  extra_listeners   = { for key, group in var.target_groups : key => group if group.listener_port != null }
}

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is priced per rule and request; attach one (aws_wafv2_web_acl_association) when the API faces untrusted traffic.
  #checkov:skip=CKV2_AWS_76:Same as CKV2_AWS_28: no WAF is attached by default.
  name                       = var.name
  internal                   = false
  load_balancer_type         = "application"
  subnets                    = var.subnet_ids
  security_groups            = var.security_group_ids
  idle_timeout               = var.idle_timeout
  enable_deletion_protection = var.deletion_protection
  drop_invalid_header_fields = true
  enable_http2               = true

  access_logs {
    bucket  = var.access_logs_bucket
    prefix  = var.access_logs_prefix
    enabled = true
  }

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; targets sit in private subnets reachable only from its security group.
  for_each = var.target_groups

  name                 = substr("${var.name}-${each.key}", 0, 32)
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = each.value.deregistration_delay

  health_check {
    enabled             = true
    path                = each.value.health_check_path
    matcher             = each.value.health_check_matcher
    protocol            = "HTTP"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# Port 80: redirect to HTTPS when there is a certificate, otherwise serve the API.
resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:Without a certificate (development) port 80 serves plain HTTP; with one it only redirects to HTTPS.
  #checkov:skip=CKV_AWS_103:Same listener: TLS settings apply to the HTTPS listeners.
  #checkov:skip=CKV2_AWS_20:The redirect is conditional on certificate_arn; development runs without a certificate.
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.tls ? "redirect" : "forward"
    target_group_arn = local.tls ? null : aws_lb_target_group.this[local.default_group_key].arn

    dynamic "redirect" {
      for_each = local.tls ? [1] : []

      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.tls ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[local.default_group_key].arn
  }

  tags = var.tags

  lifecycle {
    # A blue-green service (modules/codedeploy-blue-green) has CodeDeploy point this
    # listener at its green target group on every deployment.
    ignore_changes = [default_action]
  }
}

# Internal endpoints of the default service (Prometheus metrics) are not served to the
# internet; scrape them inside the VPC through service discovery instead.
resource "aws_lb_listener_rule" "blocked_paths" {
  count = length(var.blocked_paths) > 0 ? 1 : 0

  listener_arn = local.tls ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn
  priority     = 10

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "not found"
      status_code  = "404"
    }
  }

  condition {
    path_pattern {
      values = var.blocked_paths
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "extra" {
  #checkov:skip=CKV_AWS_2:These listeners use HTTPS whenever certificate_arn is set; plain HTTP is the development fallback.
  #checkov:skip=CKV_AWS_103:TLS 1.2+ is enforced through ssl_policy whenever the listener uses HTTPS.
  for_each = local.extra_listeners

  load_balancer_arn = aws_lb.this.arn
  port              = each.value.listener_port
  protocol          = local.tls ? "HTTPS" : "HTTP"
  ssl_policy        = local.tls ? var.ssl_policy : null
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.key].arn
  }

  tags = var.tags
}
