"""The local stack: moto's S3 server and the two API stand-ins, started as real processes."""

from dev.stack.services import LocalStack, StackSettings, start_stack

__all__ = ["LocalStack", "StackSettings", "start_stack"]
