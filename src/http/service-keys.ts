import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'

/** No query parameters: an unknown one is a 400 (contract §1). */
const NoQuery = Type.Object({}, { additionalProperties: false })

const EXAMPLE = {
  keys: [
    { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'r20260105-3fa2c1', alg: 'EdDSA', use: 'sig' },
    {
      kty: 'EC',
      crv: 'SM2',
      x: 'CfnfMR5UIaFQ3X0WHkvFxnIXn60YM_wHa7CP81bzUCA',
      y: 'zOpJDOJndaUtxupxjMGqYArtBfvzXghKZjL2By2prRM',
      kid: 'r20250301-7c09d4',
      alg: 'SM2SM3',
      use: 'sig',
    },
  ],
}

const Jwk = Type.Object({
  kty: Type.Union([Type.Literal('OKP'), Type.Literal('EC')], { description: 'OKP (Ed25519, RFC 8037) or EC (SM2)' }),
  crv: Type.Union([Type.Literal('Ed25519'), Type.Literal('SM2')]),
  x: Type.String({ description: 'base64url: the Ed25519 public key, or the SM2 point’s x (32 bytes)' }),
  y: Type.Optional(Type.String({ description: 'SM2 only: the point’s y (32 bytes), base64url' })),
  kid: Type.String({ description: '密钥标识，对应回执 JWS 头部的 kid / the key id a receipt’s JWS header names' }),
  alg: Type.Union([Type.Literal('EdDSA'), Type.Literal('SM2SM3')]),
  use: Type.Literal('sig'),
})

const Jwks = Type.Object({ keys: Type.Array(Jwk) }, { examples: [EXAMPLE] })

const serviceKeysPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/service-keys',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['events'],
        summary: '回执验签公钥 / Receipt verification keys (JWKS)',
        description:
          '本服务签发回执（写操作应答头 Receipt）所用的公钥，JWKS 格式；第一把为当前签名密钥，其余为轮换前的旧密钥，仍可用于验证旧回执。' +
          'EdDSA：Ed25519（RFC 8037）；SM2SM3：SM2 签名、SM3 杂凑、用户标识 1234567812345678（GB/T 32918、GM/T 0009），签名为 r‖s 各 32 字节。见 docs/receipts.md。\n\n' +
          'The public keys of the service’s receipts (the `Receipt` header of writes on cases) as a JWKS: the first one signs now, the others are ' +
          'earlier keys still published so that older receipts keep verifying. EdDSA: Ed25519 (RFC 8037); SM2SM3: SM2 over SM3 with user id ' +
          '1234567812345678 (GB/T 32918, GM/T 0009), signature r‖s of 32 bytes each. See docs/receipts.md.',
        querystring: NoQuery,
        response: { 200: Jwks, ...errorResponses() },
      },
    },
    async () => deps.receipts.jwks() as Static<typeof Jwks>,
  )
}

export default serviceKeysPlugin
