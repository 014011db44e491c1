# Image repositories: scanned on push, encrypted with the environment key, tags
# immutable, old images expired. With create = false an environment reuses the
# repositories of another one (staging builds, production deploys the same digest).
resource "aws_ecr_repository" "this" {
  for_each = var.create ? toset(var.repository_names) : toset([])

  name                 = each.value
  image_tag_mutability = var.image_tag_mutability
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = each.value })
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after ${var.untagged_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the ${var.max_tagged_images} most recent tagged images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.max_tagged_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

data "aws_ecr_repository" "existing" {
  for_each = var.create ? toset([]) : toset(var.repository_names)

  name = each.value
}

locals {
  repositories = var.create ? {
    for name, repository in aws_ecr_repository.this : name => {
      arn = repository.arn
      url = repository.repository_url
    }
    } : {
    for name, repository in data.aws_ecr_repository.existing : name => {
      arn = repository.arn
      url = repository.repository_url
    }
  }
}
