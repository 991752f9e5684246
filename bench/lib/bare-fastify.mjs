/** Baseline: a bare Fastify route returning small JSON, logger off, in its own process. */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/', async () => ({ hello: 'world' }))
await app.listen({ host: '127.0.0.1', port: 0 })
process.send({ port: app.server.address().port })
process.on('message', async (m) => {
  if (m.cmd === 'exit') {
    await app.close()
    process.exit(0)
  }
})
