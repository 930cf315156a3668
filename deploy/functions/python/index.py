"""Sample function for the elk-extension layer: logs a few lines of each level and one error (with its
stack trace), plus a plain print(), so that every kind of line can be found in S3 and Kibana."""
import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.DEBUG)


def handler(event, context):
    logger.debug("debug: received an event with keys %s", ",".join(sorted(event or {})))
    logger.info("info: processing request %s", context.aws_request_id)
    print("print: plain stdout line")
    logger.warning("warning: this is a warning for the sample")
    try:
        json.loads("{not json")
    except ValueError:
        logger.exception("error: could not parse the payload")
    logger.info("info: done")
    return {"statusCode": 200, "body": json.dumps({"ok": True, "requestId": context.aws_request_id})}
