// Sample function for the elk-extension layer: logs a few lines of each level and one error, so that
// every kind of line can be found in S3 and Kibana (log.level, error.*, faas.execution).
exports.handler = async (event, context) => {
  console.debug('debug: received an event with keys', Object.keys(event || {}).join(','));
  console.info('info: processing request', context.awsRequestId);
  console.log('log: plain console.log line');
  console.warn('warn: this is a warning for the sample');
  try {
    JSON.parse('{not json');
  } catch (err) {
    console.error('error: could not parse the payload', err);
  }
  console.info('info: done');
  return { statusCode: 200, body: JSON.stringify({ ok: true, requestId: context.awsRequestId }) };
};
