import pino, { type Logger, type LevelWithSilent, type DestinationStream } from 'pino'

/** Query parameters whose values are personal data and must not reach a log line. */
const SENSITIVE_QUERY = /([?&](?:partyIdNumber|idNumber|phone)=)[^&]*/gi

export function redactUrl(url: string): string {
  return url.replace(SENSITIVE_QUERY, '$1[REDACTED]')
}

export const requestSerializers = {
  req(req: { method?: string; url?: string; id?: string; headers?: Record<string, unknown>; socket?: { remoteAddress?: string }; ip?: string }) {
    return {
      method: req.method,
      url: req.url ? redactUrl(req.url) : undefined,
      reqId: req.id,
      remoteAddress: req.ip ?? req.socket?.remoteAddress,
      userAgent: req.headers?.['user-agent'],
    }
  },
  res(res: { statusCode?: number }) {
    return { statusCode: res.statusCode }
  },
}

/**
 * The one logger: JSON to stdout (operators keep logs ≥ 6 months), with personal data and credentials redacted by
 * path as a second line of defence (the code does not log bodies in the first place).
 */
export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'zdz-connector' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { ...requestSerializers, err: pino.stdSerializers.err },
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          'authorization',
          'apiKey',
          '*.apiKey',
          'secret',
          '*.secret',
          'idNumber',
          '*.idNumber',
          '*.*.idNumber',
          'phone',
          '*.phone',
          '*.*.phone',
          'address',
          '*.address',
          '*.*.address',
          'parties',
          '*.parties',
        ],
        censor: '[REDACTED]',
      },
    },
    destination,
  )
}
