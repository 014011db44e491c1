# Blue-green deployments of one load-balanced ECS service through CodeDeploy.
#
#   CD registers a task definition revision and creates a deployment (appspec:
#   deployment/aws/codedeploy/appspec.yaml)
#     1. CodeDeploy starts the green task set behind the green target group
#     2. the test listener (test_listener_port) routes to green; hook AfterAllowTestTraffic
#        runs `fraudops smoke` against it (an ECS task started by the hook function)
#     3. production traffic shifts to green by traffic_shift (canary or linear); the
#        rollback alarms (5xx share, p99 latency, unready targets) are watched throughout
#     4. hook AfterAllowTraffic runs `fraudops smoke` against the production URL
#     5. blue keeps running blue_termination_wait_minutes, then is terminated
#   A failed hook or an alarm at any step sends all traffic back to blue (automatic
#   rollback). Every deployment event goes to the notification topic.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  tls        = var.certificate_arn != null
  test_url   = "${var.public_base_url}:${var.test_listener_port}"

  # One function per AppSpec hook; the names are the ones appspec.yaml renders.
  hooks = {
    test = { event = "AfterAllowTestTraffic", url = local.test_url }
    live = { event = "AfterAllowTraffic", url = var.public_base_url }
  }
  hook_names = { for key, hook in local.hooks : key => "${var.name}-smoke-${key}-traffic" }

  deployment_group_arn = "arn:${local.partition}:codedeploy:${local.region}:${local.account_id}:deploymentgroup:${aws_codedeploy_app.this.name}/${var.name}"
}

# ---- The second target group and the test listener ------------------------------

resource "aws_lb_target_group" "green" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; targets sit in private subnets reachable only from its security group.
  name                 = substr("${var.name}-green", 0, 32)
  port                 = var.blue_target_group.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = var.blue_target_group.health_check_path
    matcher             = "200"
    protocol            = "HTTP"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = merge(var.tags, { Name = "${var.name}-green" })
}

resource "aws_lb_listener" "test" {
  #checkov:skip=CKV_AWS_2:The test listener speaks HTTPS whenever certificate_arn is set; plain HTTP is the development fallback.
  #checkov:skip=CKV_AWS_103:TLS 1.2+ is enforced through ssl_policy whenever the listener uses HTTPS.
  load_balancer_arn = var.load_balancer_arn
  port              = var.test_listener_port
  protocol          = local.tls ? "HTTPS" : "HTTP"
  ssl_policy        = local.tls ? var.ssl_policy : null
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = var.blue_target_group.arn
  }

  tags = var.tags

  lifecycle {
    # CodeDeploy points this listener at whichever target group holds the new task set.
    ignore_changes = [default_action]
  }
}

locals {
  # [port, CIDR] pairs opened on the load balancer: the smoke tasks reach both listeners
  # through the NAT gateways, admins the test listener.
  production_port = local.tls ? 443 : 80
  ingress = merge(
    { for cidr in var.smoke_source_cidr_blocks : "test ${cidr}" => [var.test_listener_port, cidr] },
    { for cidr in var.smoke_source_cidr_blocks : "production ${cidr}" => [local.production_port, cidr] },
    { for cidr in var.admin_cidr_blocks : "test ${cidr}" => [var.test_listener_port, cidr] },
  )
}

resource "aws_vpc_security_group_ingress_rule" "listeners" {
  for_each = local.ingress

  security_group_id = var.alb_security_group_id
  description       = "${var.name} blue-green: ${split(" ", each.key)[0]} listener for smoke tests and admins"
  ip_protocol       = "tcp"
  from_port         = each.value[0]
  to_port           = each.value[0]
  cidr_ipv4         = each.value[1]

  tags = var.tags
}

# ---- The smoke task's network: out to the load balancer and AWS APIs only ---------

resource "aws_security_group" "smoke" {
  #checkov:skip=CKV2_AWS_5:The hook functions attach this group to the smoke tasks they start (SECURITY_GROUP_IDS), which checkov does not follow.
  name        = "${var.name}-smoke"
  description = "${var.name}: smoke tasks started by the CodeDeploy hooks"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-smoke" })
}

resource "aws_vpc_security_group_egress_rule" "smoke" {
  for_each = toset([tostring(local.production_port), tostring(var.test_listener_port), "443"])

  security_group_id = aws_security_group.smoke.id
  description       = "Smoke task to the load balancer listeners and AWS APIs (ECR, Secrets Manager, Logs)"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv4         = "0.0.0.0/0"

  tags = var.tags
}

# ---- Rollback alarms: blue and green target groups together ------------------------

resource "aws_cloudwatch_metric_alarm" "http_5xx_rate" {
  alarm_name          = "${var.name}-deployment-5xx-rate"
  alarm_description   = "${var.name}: more than ${var.http_5xx_rate_threshold_percent}% of requests (blue and green target groups) answered 5xx for 2 minutes. Stops and rolls back a blue-green deployment."
  evaluation_periods  = 2
  threshold           = var.http_5xx_rate_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [var.notification_topic_arn]
  ok_actions          = [var.notification_topic_arn]

  metric_query {
    id          = "rate"
    label       = "5xx share of requests, both task sets (%)"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    return_data = true
  }

  metric_query {
    id         = "errors"
    expression = "FILL(errors_blue, 0) + FILL(errors_green, 0)"
  }

  metric_query {
    id         = "requests"
    expression = "FILL(requests_blue, 0) + FILL(requests_green, 0)"
  }

  dynamic "metric_query" {
    for_each = {
      errors_blue    = ["HTTPCode_Target_5XX_Count", var.blue_target_group.arn_suffix]
      errors_green   = ["HTTPCode_Target_5XX_Count", aws_lb_target_group.green.arn_suffix]
      requests_blue  = ["RequestCount", var.blue_target_group.arn_suffix]
      requests_green = ["RequestCount", aws_lb_target_group.green.arn_suffix]
    }

    content {
      id = metric_query.key

      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value[0]
        dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = metric_query.value[1] }
        stat        = "Sum"
        period      = 60
      }
    }
  }

  tags = var.tags
}

# The worse of the two task sets: p99 response time, and targets failing the readiness
# health check (no model loaded, or failing) that the target groups run.
resource "aws_cloudwatch_metric_alarm" "task_set" {
  for_each = {
    latency-p99 = {
      metric      = "TargetResponseTime"
      stat        = "p99"
      threshold   = var.latency_p99_threshold_seconds
      label       = "p99 response time, slower task set (s)"
      description = "p99 response time of the blue or the green task set above ${var.latency_p99_threshold_seconds}s"
    }
    unready-targets = {
      metric      = "UnHealthyHostCount"
      stat        = "Maximum"
      threshold   = 0
      label       = "Unready targets, either task set"
      description = "a task of the blue or the green task set failed its readiness health check (${var.blue_target_group.health_check_path})"
    }
  }

  alarm_name          = "${var.name}-deployment-${each.key}"
  alarm_description   = "${var.name}: ${each.value.description} for 2 minutes. Stops and rolls back a blue-green deployment."
  evaluation_periods  = 2
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [var.notification_topic_arn]
  ok_actions          = [var.notification_topic_arn]

  metric_query {
    id          = "worst"
    label       = each.value.label
    expression  = "MAX([FILL(blue, 0), FILL(green, 0)])"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { blue = var.blue_target_group.arn_suffix, green = aws_lb_target_group.green.arn_suffix }

    content {
      id = metric_query.key

      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = each.value.metric
        dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = metric_query.value }
        stat        = each.value.stat
        period      = 60
      }
    }
  }

  tags = var.tags
}

locals {
  rollback_alarm_names = concat(
    [aws_cloudwatch_metric_alarm.http_5xx_rate.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.task_set : alarm.alarm_name],
  )
}

# ---- CodeDeploy --------------------------------------------------------------------

# Trust of the two service roles below (CodeDeploy, and the hook functions in hooks.tf).
data "aws_iam_policy_document" "assume" {
  for_each = toset(["codedeploy", "lambda"])

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["${each.key}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "codedeploy" {
  name               = "${var.name}-codedeploy"
  description        = "CodeDeploy shifts traffic of ${var.name} between its task sets"
  assume_role_policy = data.aws_iam_policy_document.assume["codedeploy"].json

  tags = var.tags
}

# AWS's policy for CodeDeploy on ECS: task sets, target groups, listeners, alarms.
resource "aws_iam_role_policy_attachment" "codedeploy" {
  role       = aws_iam_role.codedeploy.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSCodeDeployRoleForECS"
}

# The managed policy only invokes functions named CodeDeployHook_* and publishes to
# topics named CodeDeployTopic_*: this environment's hooks and topic are granted here.
data "aws_iam_policy_document" "codedeploy" {
  statement {
    sid       = "InvokeOwnHooks"
    actions   = ["lambda:InvokeFunction"]
    resources = [for function in aws_lambda_function.smoke : function.arn]
  }

  statement {
    sid       = "NotifyTheTeam"
    actions   = ["sns:Publish"]
    resources = [var.notification_topic_arn]
  }

  statement {
    sid       = "EncryptNotifications"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "codedeploy" {
  name   = "hooks-and-notifications"
  role   = aws_iam_role.codedeploy.id
  policy = data.aws_iam_policy_document.codedeploy.json
}

resource "aws_codedeploy_app" "this" {
  name             = var.name
  compute_platform = "ECS"

  tags = var.tags
}

resource "aws_codedeploy_deployment_group" "this" {
  app_name               = aws_codedeploy_app.this.name
  deployment_group_name  = var.name
  service_role_arn       = aws_iam_role.codedeploy.arn
  deployment_config_name = var.traffic_shift

  deployment_style {
    deployment_type   = "BLUE_GREEN"
    deployment_option = "WITH_TRAFFIC_CONTROL"
  }

  ecs_service {
    cluster_name = var.cluster_name
    service_name = var.service_name
  }

  blue_green_deployment_config {
    deployment_ready_option {
      action_on_timeout = "CONTINUE_DEPLOYMENT"
    }

    terminate_blue_instances_on_deployment_success {
      action                           = "TERMINATE"
      termination_wait_time_in_minutes = var.blue_termination_wait_minutes
    }
  }

  load_balancer_info {
    target_group_pair_info {
      prod_traffic_route {
        listener_arns = [var.production_listener_arn]
      }

      test_traffic_route {
        listener_arns = [aws_lb_listener.test.arn]
      }

      target_group {
        name = var.blue_target_group.name
      }

      target_group {
        name = aws_lb_target_group.green.name
      }
    }
  }

  # Any of these alarms in ALARM during the deployment stops it and rolls back.
  alarm_configuration {
    enabled = true
    alarms  = local.rollback_alarm_names
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }

  trigger_configuration {
    trigger_name       = "${var.name}-deployment-events"
    trigger_target_arn = var.notification_topic_arn
    trigger_events = [
      "DeploymentStart",
      "DeploymentSuccess",
      "DeploymentFailure",
      "DeploymentStop",
      "DeploymentRollback",
    ]
  }

  tags = var.tags

  lifecycle {
    precondition {
      # Terraform leaves the HTTPS listener's target alone (modules/alb ignores it) but
      # not port 80's forward, which it would turn back to blue on the next apply.
      condition     = var.certificate_arn != null
      error_message = "Blue-green deployments need HTTPS (certificate_arn): CodeDeploy switches the production listener between target groups."
    }
  }

  depends_on = [aws_iam_role_policy.codedeploy, aws_iam_role_policy_attachment.codedeploy]
}
