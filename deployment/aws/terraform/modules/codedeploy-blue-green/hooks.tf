# The AppSpec hook functions: hooks/smoke_hook.py, one function per hook, each with the
# URL its smoke test targets (the test listener, or the production listener).

data "archive_file" "smoke_hook" {
  type        = "zip"
  source_file = "${path.module}/hooks/smoke_hook.py"
  output_path = "${path.root}/.terraform/build/${var.name}-smoke-hook.zip"
}

resource "aws_iam_role" "hook" {
  name               = "${var.name}-smoke-hook"
  description        = "CodeDeploy hooks of ${var.name}: start the smoke task, report its result"
  assume_role_policy = data.aws_iam_policy_document.assume["lambda"].json

  tags = var.tags
}

data "aws_iam_policy_document" "hook" {
  statement {
    sid       = "RunTheSmokeTask"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/${var.task_definition_family}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:cluster/${var.cluster_name}"]
    }
  }

  statement {
    sid       = "WatchTheSmokeTask"
    actions   = ["ecs:DescribeTasks"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${var.cluster_name}/*"]
  }

  statement {
    sid       = "PassTheTaskRoles"
    actions   = ["iam:PassRole"]
    resources = var.pass_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReportTheHookResult"
    actions   = ["codedeploy:PutLifecycleEventHookExecutionStatus"]
    resources = [local.deployment_group_arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.hook : "${group.arn}:*"]
  }

  statement {
    sid       = "DecryptOwnEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid = "Tracing"
    #checkov:skip=CKV_AWS_356:X-Ray trace uploads have no resource-level permissions.
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "hook" {
  name   = "run-smoke-task"
  role   = aws_iam_role.hook.id
  policy = data.aws_iam_policy_document.hook.json
}

resource "aws_cloudwatch_log_group" "hook" {
  #checkov:skip=CKV_AWS_338:Retention is a setting (log_retention_days); a hook's log matters for the deployment it served.
  for_each = local.hook_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "smoke" {
  #checkov:skip=CKV_AWS_117:The function only calls the ECS and CodeDeploy APIs; the smoke test itself runs as an ECS task inside the VPC.
  #checkov:skip=CKV_AWS_116:CodeDeploy waits for the hook's status; a lost invocation fails the deployment at the hook timeout and rolls back, so a dead-letter queue would add nothing.
  #checkov:skip=CKV_AWS_115:Reserving concurrency fails in accounts whose Lambda limit is the new-account 10; CodeDeploy runs at most one hook of a deployment at a time.
  #checkov:skip=CKV_AWS_272:The code is one file built from this repository at apply time; its hash is pinned in source_code_hash.
  for_each = local.hooks

  function_name    = local.hook_names[each.key]
  description      = "${each.value.event} hook of ${var.name}: fraudops smoke against ${each.value.url}"
  role             = aws_iam_role.hook.arn
  runtime          = "python3.12"
  handler          = "smoke_hook.handler"
  filename         = data.archive_file.smoke_hook.output_path
  source_code_hash = data.archive_file.smoke_hook.output_base64sha256
  timeout          = 900
  memory_size      = 128
  kms_key_arn      = var.kms_key_arn

  environment {
    variables = {
      CLUSTER                = var.cluster_name
      TASK_DEFINITION_FAMILY = var.task_definition_family
      CONTAINER_NAME         = var.container_name
      SUBNET_IDS             = join(",", var.subnet_ids)
      SECURITY_GROUP_IDS     = aws_security_group.smoke.id
      SMOKE_URL              = each.value.url
      SMOKE_TIMEOUT_SECONDS  = tostring(var.smoke_timeout_seconds)
    }
  }

  tracing_config {
    mode = "Active"
  }

  tags = merge(var.tags, { Hook = each.value.event })

  depends_on = [aws_cloudwatch_log_group.hook, aws_iam_role_policy.hook]
}
