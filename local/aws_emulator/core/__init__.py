"""What every emulated service shares: the one error type, wire encoding from the botocore models (moto's
router, parsers and serializers), signature checks with botocore's signers, the one IAM policy
evaluator, the clock and the plugin interface."""
