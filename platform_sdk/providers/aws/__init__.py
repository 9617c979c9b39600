"""The AWS compiler: neutral resources -> `hashicorp/aws` 6.x resources (S3, Lambda, CloudFront, RDS)."""

from platform_sdk.providers.aws.compiler import AwsCompiler

__all__ = ["AwsCompiler"]
