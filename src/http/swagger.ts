import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'
import { ProblemSchema } from './common-schemas.js'
import { applyExamples, docsRequestInterceptor, docsResponseInterceptor } from './openapi-examples.js'
import { registerErrorCataloguePage } from './error-codes.js'
import { applyOperationErrors } from './operation-errors.js'

export const OPENAPI_INFO = {
  title: '总对总 connector API',
  version: '1.0.0',
  description:
    '人民法院与司法部矛盾纠纷非诉化解平台之间的对接服务（委派、委托调解，调解结果反馈，材料退回，司法确认）。\n\n' +
    'The interoperability service between the people’s courts and the Ministry of Justice non-litigation dispute platform: ' +
    'referrals, mediation outcomes, returned materials and judicial confirmation, as one signed, audited online flow. ' +
    'All /v1 routes need `Authorization: Bearer <apiKey>`; every creating or changing POST needs `Idempotency-Key`. ' +
    'Errors are application/problem+json with a stable `code`; `type` is `/docs/errors#<code>`, the entry of the error catalogue ' +
    '(`GET /docs/errors`, and `GET /v1/error-codes` for machines, which also lists the field codes of `errors[].code`). `title`, `detail` and ' +
    '`errors[].message` are Chinese, or English when `Accept-Language` prefers `en` (q-values honoured; Chinese by default). ' +
    'Each operation lists the codes it can answer, with an example per code.',
  license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
  contact: { name: 'Connector operations' },
}

export async function registerDocs(app: FastifyInstance): Promise<void> {
  app.addSchema(ProblemSchema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      servers: [{ url: '/', description: 'this deployment' }],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'API key issued by POST /v1/clients' } },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'referrals', description: '委派/委托调解 / referrals and their transitions' },
        { name: 'judicial-confirmations', description: '司法确认 / judicial confirmation' },
        { name: 'organizations', description: '调解组织名册 / organization roster and routing' },
        { name: 'events', description: '事件与同步 / events, subscriptions and deliveries' },
        { name: 'warnings', description: '重大矛盾纠纷预警 / major dispute warnings' },
        { name: 'stats', description: '统计 / statistics' },
        { name: 'materials', description: '案件材料 / case materials' },
        { name: 'calendar', description: '法定节假日 / legal calendar' },
        { name: 'clients', description: '调用方与密钥 / clients and API keys' },
        { name: 'operations', description: '运维 / health, metrics' },
        { name: 'errors', description: '错误码目录 / the error catalogue (also at /docs/errors)' },
      ],
    },
    // Examples (request and response) and the webhooks section come from one central file (openapi-examples.ts); each
    // operation's error codes, with an example per code, from one table (src/http/operation-errors.ts).
    transformObject: (documents) =>
      applyOperationErrors(
        applyExamples(structuredClone('openapiObject' in documents ? documents.openapiObject : documents.swaggerObject)) as Record<string, unknown>,
      ),
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  })
  await app.register(async (docs) => {
    // Security headers on the documentation pages (contract §8); the API itself answers JSON only.
    await docs.register(helmet, {
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
        },
      },
    })
    await docs.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: {
        docExpansion: 'list',
        deepLinking: true,
        // Example dates move to today at load; the example "now" timestamp is sent as the current time.
        responseInterceptor: docsResponseInterceptor,
        requestInterceptor: docsRequestInterceptor,
      } as Record<string, unknown>,
      staticCSP: false,
    })
    registerErrorCataloguePage(docs)
  })
}
