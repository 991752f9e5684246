import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AppDeps } from './app-deps.js'
import organizationsPlugin from './organizations.js'
import courtRostersPlugin from './court-rosters.js'
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
import codeTablesPlugin from './code-tables.js'
import reconciliationPlugin from './reconciliation.js'
import serviceKeysPlugin from './service-keys.js'
import errorCodesPlugin from './error-codes.js'

/** A resource plugin: declares its routes, with TypeBox schemas, from the dependencies it is given. */
export type ResourcePlugin = FastifyPluginAsyncTypebox<{ deps: AppDeps }>

/** The resource plugins, registered in this order by buildApp. */
const resourcePlugins: readonly ResourcePlugin[] = [
  organizationsPlugin,
  courtRostersPlugin,
  referralsPlugin,
  auditPlugin,
  confirmationsPlugin,
  subscriptionsPlugin,
  deliveriesPlugin,
  eventsPlugin,
  routingPlugin,
  warningsPlugin,
  statsPlugin,
  materialsPlugin,
  calendarPlugin,
  codeTablesPlugin,
  reconciliationPlugin,
  serviceKeysPlugin,
  errorCodesPlugin,
]

export default resourcePlugins
