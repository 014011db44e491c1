# Least privilege, per service: an execution role (pull its image, write its log
# group, read its own secrets) and a task role (its buckets, nothing else). An optional
# deploy role lets this repository's GitHub workflows push images and roll out new
# task definitions through OIDC, with no long-lived keys.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  github_url = "token.actions.githubusercontent.com"
  deploy     = var.github_repository != null
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# ---- Execution roles ---------------------------------------------------------------

resource "aws_iam_role" "execution" {
  for_each = var.services

  name               = "${var.name}-${each.key}-execution"
  description        = "ECS pulls the ${each.key} image, writes its logs and reads its secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "execution" {
  for_each = var.services

  statement {
    sid = "AuthenticateToEcr"
    #checkov:skip=CKV_AWS_356:ecr:GetAuthorizationToken has no resource-level permissions.
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = var.ecr_repository_arns
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for arn in each.value.log_group_arns : "${arn}:*"]
  }

  dynamic "statement" {
    for_each = length(each.value.secret_arns) > 0 ? [1] : []

    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = each.value.secret_arns
    }
  }

  statement {
    sid       = "DecryptWithEnvironmentKey"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = var.services

  name   = "pull-log-secrets"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

# ---- Task roles --------------------------------------------------------------------

resource "aws_iam_role" "task" {
  for_each = var.services

  name               = "${var.name}-${each.key}-task"
  description        = "The ${each.key} application's own permissions"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "task" {
  for_each = { for key, service in var.services : key => service if length(service.read_write_bucket_arns) > 0 || var.enable_execute_command }

  dynamic "statement" {
    for_each = length(each.value.read_write_bucket_arns) > 0 ? [1] : []

    content {
      sid       = "ListOwnBuckets"
      actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
      resources = each.value.read_write_bucket_arns
    }
  }

  dynamic "statement" {
    for_each = length(each.value.read_write_bucket_arns) > 0 ? [1] : []

    content {
      sid = "ReadWriteOwnObjects"
      actions = [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
      ]
      resources = [for arn in each.value.read_write_bucket_arns : "${arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.read_write_bucket_arns) > 0 ? [1] : []

    content {
      sid       = "UseEnvironmentKeyForObjects"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }

  dynamic "statement" {
    for_each = var.enable_execute_command ? [1] : []

    content {
      sid       = "EcsExecSessionKey"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }

  dynamic "statement" {
    for_each = var.enable_execute_command && var.exec_log_group_arn != null ? [1] : []

    content {
      sid       = "EcsExecSessionLog"
      actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      resources = ["${var.exec_log_group_arn}:*"]
    }
  }

  dynamic "statement" {
    for_each = var.enable_execute_command ? [1] : []

    content {
      sid = "EcsExecFindLogGroup"
      #checkov:skip=CKV_AWS_356:logs:DescribeLogGroups has no resource-level permissions.
      actions   = ["logs:DescribeLogGroups"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.enable_execute_command ? [1] : []

    content {
      sid = "EcsExecChannels"
      #checkov:skip=CKV_AWS_356:ssmmessages channel actions have no resource-level permissions.
      actions = [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = data.aws_iam_policy_document.task

  name   = "application"
  role   = aws_iam_role.task[each.key].id
  policy = each.value.json
}

# ---- GitHub Actions deploy role (OIDC) ---------------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  count = local.deploy && var.create_github_oidc_provider ? 1 : 0

  url            = "https://${local.github_url}"
  client_id_list = ["sts.amazonaws.com"]
  # AWS trusts GitHub's OIDC certificate through its own root CAs; the list is kept
  # for providers older than the thumbprint-optional API.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]

  tags = var.tags
}

data "aws_iam_openid_connect_provider" "github" {
  count = local.deploy && !var.create_github_oidc_provider ? 1 : 0

  url = "https://${local.github_url}"
}

locals {
  github_provider_arn = !local.deploy ? null : (
    var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn
  )
}

data "aws_iam_policy_document" "deploy_assume" {
  count = local.deploy ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_url}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_url}:sub"
      values   = var.github_subjects
    }
  }
}

resource "aws_iam_role" "deploy" {
  count = local.deploy ? 1 : 0

  name                 = "${var.name}-github-deploy"
  description          = "GitHub Actions of ${var.github_repository} push images and deploy ${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.deploy_assume[0].json
  max_session_duration = 3600

  tags = var.tags
}

data "aws_iam_policy_document" "deploy" {
  count = local.deploy ? 1 : 0

  statement {
    sid = "AuthenticateToEcr"
    #checkov:skip=CKV_AWS_356:ecr:GetAuthorizationToken has no resource-level permissions.
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = var.ecr_repository_arns
  }

  statement {
    sid = "RegisterTaskDefinitions"
    #checkov:skip=CKV_AWS_356:Task definition registration and description have no resource-level permissions.
    #checkov:skip=CKV_AWS_111:ecs:RegisterTaskDefinition has no resource-level permissions; it can only pass the roles below.
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid       = "RollOutServices"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:service/${var.cluster_name}/*"]
  }

  statement {
    sid       = "PassOnlyThisEnvironmentsRoles"
    actions   = ["iam:PassRole"]
    resources = concat([for role in aws_iam_role.execution : role.arn], [for role in aws_iam_role.task : role.arn])

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = length(var.codedeploy_applications) > 0 ? [1] : []

    content {
      sid = "CreateBlueGreenDeployments"
      actions = [
        "codedeploy:CreateDeployment",
        "codedeploy:GetApplication",
        "codedeploy:GetApplicationRevision",
        "codedeploy:GetDeployment",
        "codedeploy:GetDeploymentConfig",
        "codedeploy:GetDeploymentGroup",
        "codedeploy:RegisterApplicationRevision",
        "codedeploy:StopDeployment",
      ]
      resources = flatten([
        for app in var.codedeploy_applications : [
          "arn:${local.partition}:codedeploy:${local.region}:${local.account_id}:application:${app}",
          "arn:${local.partition}:codedeploy:${local.region}:${local.account_id}:deploymentgroup:${app}/${app}",
          "arn:${local.partition}:codedeploy:${local.region}:${local.account_id}:deploymentconfig:*",
        ]
      ])
    }
  }

  dynamic "statement" {
    for_each = length(var.smoke_test_secret_arns) > 0 ? [1] : []

    content {
      sid       = "ReadSmokeTestKey"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = var.smoke_test_secret_arns
    }
  }

  statement {
    sid       = "UseEnvironmentKey"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "deploy" {
  count = local.deploy ? 1 : 0

  name   = "push-and-deploy"
  role   = aws_iam_role.deploy[0].id
  policy = data.aws_iam_policy_document.deploy[0].json
}
