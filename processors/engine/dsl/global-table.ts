/** A table replicated whole to every instance; joined by a key taken from the stream record. */
export class GlobalKTable<K, V> {
  /** Phantom fields carry the types for joins. */
  declare readonly keyType: K;
  declare readonly valueType: V;
  constructor(readonly storeName: string, readonly topic: string) {}
}
