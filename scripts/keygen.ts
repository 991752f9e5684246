import { newDataKeyEntry } from '../src/security/key-file.js'

/** Prints a new data key entry for DATA_KEYS (`keyId:base64`): put it first to encrypt with it, keep the old ones after it. */
process.stdout.write(`${newDataKeyEntry()}\n`)
