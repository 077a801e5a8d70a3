/** The `code` of a Node or network error ("ENOENT", "ABORT_ERR", "UND_ERR_SOCKET"), if it has one. */
export const errorCode = (err: unknown): string | undefined => {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
};
