//! AWS's published on-demand prices in us-east-1, as the bill is priced (checked 2025; each
//! names the page it comes from, which BENCHMARKS.md cites).

#[derive(Debug)]
pub struct Price {
    pub what: &'static str,
    /// US dollars per `unit`.
    pub usd: f64,
    pub unit: &'static str,
    /// As the pricing page puts it.
    pub quoted: &'static str,
    pub source: &'static str,
}

pub static STATE_TRANSITION: Price = Price {
    what: "Step Functions Standard state transition",
    usd: 0.025 / 1_000.0,
    unit: "transition",
    quoted: "$0.025 per 1,000",
    source: "https://aws.amazon.com/step-functions/pricing/",
};
pub static LAMBDA_REQUEST: Price = Price {
    what: "Lambda request",
    usd: 0.20 / 1_000_000.0,
    unit: "request",
    quoted: "$0.20 per 1M",
    source: "https://aws.amazon.com/lambda/pricing/",
};
/// Arm (Graviton), the architecture the functions are deployed for; first pricing tier.
pub static LAMBDA_ARM_GB_SECOND: Price = Price {
    what: "Lambda duration, Arm",
    usd: 0.000_013_333_4,
    unit: "GB-second",
    quoted: "$0.0000133334 per GB-s",
    source: "https://aws.amazon.com/lambda/pricing/",
};
pub static DYNAMODB_WRITE_UNIT: Price = Price {
    what: "DynamoDB on-demand write request unit",
    usd: 0.625 / 1_000_000.0,
    unit: "WRU",
    quoted: "$0.625 per 1M",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
};
pub static DYNAMODB_READ_UNIT: Price = Price {
    what: "DynamoDB on-demand read request unit",
    usd: 0.125 / 1_000_000.0,
    unit: "RRU",
    quoted: "$0.125 per 1M",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
};
pub static SNS_PUBLISH: Price = Price {
    what: "SNS publish (standard topic)",
    usd: 0.50 / 1_000_000.0,
    unit: "request",
    quoted: "$0.50 per 1M",
    source: "https://aws.amazon.com/sns/pricing/",
};
pub static SNS_EMAIL: Price = Price {
    what: "SNS email delivery",
    usd: 2.00 / 100_000.0,
    unit: "email",
    quoted: "$2.00 per 100,000",
    source: "https://aws.amazon.com/sns/pricing/",
};
pub static EVENTBRIDGE_EVENT: Price = Price {
    what: "EventBridge custom event",
    usd: 1.00 / 1_000_000.0,
    unit: "event",
    quoted: "$1.00 per 1M",
    source: "https://aws.amazon.com/eventbridge/pricing/",
};
pub static SQS_REQUEST: Price = Price {
    what: "SQS standard queue request",
    usd: 0.40 / 1_000_000.0,
    unit: "request",
    quoted: "$0.40 per 1M (after the free 1M a month)",
    source: "https://aws.amazon.com/sqs/pricing/",
};
pub static API_GATEWAY_REST_REQUEST: Price = Price {
    what: "API Gateway REST request",
    usd: 3.50 / 1_000_000.0,
    unit: "request",
    quoted: "$3.50 per 1M (first 333M)",
    source: "https://aws.amazon.com/api-gateway/pricing/",
};
pub static LOGS_INGESTED_GB: Price = Price {
    what: "CloudWatch Logs ingestion (standard)",
    usd: 0.50,
    unit: "GB",
    quoted: "$0.50 per GB",
    source: "https://aws.amazon.com/cloudwatch/pricing/",
};

pub static ALL: [&Price; 11] = [
    &STATE_TRANSITION,
    &LAMBDA_REQUEST,
    &LAMBDA_ARM_GB_SECOND,
    &DYNAMODB_WRITE_UNIT,
    &DYNAMODB_READ_UNIT,
    &SNS_PUBLISH,
    &SNS_EMAIL,
    &EVENTBRIDGE_EVENT,
    &SQS_REQUEST,
    &API_GATEWAY_REST_REQUEST,
    &LOGS_INGESTED_GB,
];
