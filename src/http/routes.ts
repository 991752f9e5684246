import type { FastifyPluginAsync } from 'fastify'
import type { AppDeps } from './app-deps.js'
import organizationsPlugin from './organizations.js'
import referralsPlugin from './referrals.js'
import confirmationsPlugin from './judicial-confirmations.js'

/** The resource plugins, registered in this order by buildApp. */
const resourcePlugins: Array<FastifyPluginAsync<{ deps: AppDeps }>> = [organizationsPlugin as never, referralsPlugin as never, confirmationsPlugin as never]

export default resourcePlugins
