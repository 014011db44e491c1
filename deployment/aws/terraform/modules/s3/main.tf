# Data and MLflow artifacts: versioned, KMS-encrypted, private, TLS-only, with old
# objects moved to an archive class. A third bucket collects access logs.
data "aws_elb_service_account" "current" {}
data "aws_caller_identity" "current" {}

locals {
  content_buckets = {
    data      = var.data_bucket_name
    artifacts = var.artifacts_bucket_name
  }
}

# ---- Data and artifact buckets ---------------------------------------------------

resource "aws_s3_bucket" "content" {
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; versioning plus backups of the source data cover recovery. Add a replication rule where policy demands it.
  #checkov:skip=CKV2_AWS_62:No consumer listens to object events; the pipelines poll the manifest.
  for_each = local.content_buckets

  bucket        = each.value
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = each.value, Purpose = each.key })
}

resource "aws_s3_bucket_ownership_controls" "content" {
  for_each = aws_s3_bucket.content

  bucket = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "content" {
  for_each = aws_s3_bucket.content

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "content" {
  for_each = aws_s3_bucket.content

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "content" {
  for_each = aws_s3_bucket.content

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "content" {
  for_each = aws_s3_bucket.content

  bucket        = each.value.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3-access/${each.value.id}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "content" {
  for_each = aws_s3_bucket.content

  bucket = each.value.id

  rule {
    id     = "archive-old-objects"
    status = "Enabled"

    filter {}

    transition {
      days          = var.archive_transition_days
      storage_class = var.archive_storage_class
    }

    noncurrent_version_transition {
      noncurrent_days = 30
      storage_class   = "GLACIER_IR"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.content]
}

data "aws_iam_policy_document" "content" {
  for_each = aws_s3_bucket.content

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "content" {
  for_each = aws_s3_bucket.content

  bucket = each.value.id
  policy = data.aws_iam_policy_document.content[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.content]
}

# ---- Access-log bucket -----------------------------------------------------------

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log bucket; logging it into itself would loop.
  #checkov:skip=CKV_AWS_144:Access logs are not replicated; losing a region's logs is acceptable.
  #checkov:skip=CKV2_AWS_62:No consumer listens to log delivery events.
  #checkov:skip=CKV_AWS_145:Load balancer access logs only support SSE-S3 (AES256) buckets, not KMS.
  bucket        = var.logs_bucket_name
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = var.logs_bucket_name, Purpose = "access-logs" })
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.logs_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "LoadBalancerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]

    # Regions opened before August 2022 deliver as the regional ELB account, newer ones
    # as the log-delivery service; allowing both works everywhere.
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }

  statement {
    sid       = "LoadBalancerAccessLogsService"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3-access/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json

  depends_on = [aws_s3_bucket_public_access_block.logs]
}
