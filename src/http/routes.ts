import type { FastifyPluginAsync } from 'fastify'
import type { AppDeps } from './app-deps.js'
import organizationsPlugin from './organizations.js'
import referralsPlugin from './referrals.js'
import auditPlugin from './audit.js'
import confirmationsPlugin from './judicial-confirmations.js'
import subscriptionsPlugin from './subscriptions.js'
import deliveriesPlugin from './deliveries.js'
import eventsPlugin from './events.js'
import routingPlugin from './routing.js'
import warningsPlugin from './warnings.js'
import statsPlugin from './stats.js'
import materialsPlugin from './materials.js'
import calendarPlugin from './calendar.js'

/** The resource plugins, registered in this order by buildApp. */
const resourcePlugins: Array<FastifyPluginAsync<{ deps: AppDeps }>> = [organizationsPlugin as never, referralsPlugin as never, auditPlugin as never, confirmationsPlugin as never, subscriptionsPlugin as never, deliveriesPlugin as never, eventsPlugin as never, routingPlugin as never, warningsPlugin as never, statsPlugin as never, materialsPlugin as never, calendarPlugin as never]

export default resourcePlugins
