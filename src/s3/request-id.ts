/** S3-style request ids: 16 upper-case hex characters, a random per-process prefix and a counter. */
import { randomBytes } from 'node:crypto';

const ID_PREFIX = randomBytes(3).toString('hex').toUpperCase();
let idCounter = 0;

export const newRequestId = (): string => ID_PREFIX + (idCounter++ % 0x10000000000).toString(16).toUpperCase().padStart(10, '0');
