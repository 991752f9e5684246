import { newDataKeyEntry } from '../src/security/key-file.js'
import { newReceiptKeyEntry } from '../src/security/receipts.js'

/**
 * Prints a new key entry. Without options: a data key for DATA_KEYS (`keyId:base64`): put it first to encrypt with it,
 * keep the old ones after it. With `--receipt`: a receipt signing key for RECEIPT_KEYS (`kid:base64(PKCS#8 PEM)`),
 * Ed25519, or SM2 with `--sm2` (for RECEIPT_ALGORITHM=sm2): put it first to sign with it, keep the old ones after it.
 */
const args = process.argv.slice(2)
const unknown = args.filter((a) => a !== '--receipt' && a !== '--sm2')
if (unknown.length || (args.includes('--sm2') && !args.includes('--receipt'))) {
  process.stderr.write('usage: npm run keygen [-- --receipt [--sm2]]\n')
  process.exit(2)
}
if (args.includes('--receipt')) process.stdout.write(`${newReceiptKeyEntry(args.includes('--sm2') ? 'SM2SM3' : 'EdDSA')}\n`)
else process.stdout.write(`${newDataKeyEntry()}\n`)
