/**
 * Baseline `pkRoute`: a bare Fastify route (logger off) reading one referral row by primary key through `pg` (pool
 * of 10, a prepared statement) and returning it as JSON, in its own process: what a read costs with nothing of the
 * service's (auth, rate limit, scope, decryption, access trail, view) around the query.
 *
 * argv: databaseUrl
 */
import Fastify from 'fastify'
import pg from 'pg'

const pool = new pg.Pool({ connectionString: process.argv[2], max: 10 })
pool.on('error', () => undefined)
const app = Fastify({ logger: false })
app.get('/v1/referrals/:id', async (req, reply) => {
  const r = await pool.query({ name: 'pk', text: 'SELECT * FROM referrals WHERE id = $1', values: [req.params.id] })
  if (!r.rows.length) return reply.code(404).send({ code: 'not_found' })
  return r.rows[0]
})
await app.listen({ host: '127.0.0.1', port: 0 })
process.send({ port: app.server.address().port })
process.on('message', async (m) => {
  if (m.cmd === 'exit') {
    await app.close()
    await pool.end()
    process.exit(0)
  }
})
