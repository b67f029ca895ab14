/** A minimal typed event: models emit, views connect. `connect` returns the disconnect function. */
export class Signal<T> {
  private listeners = new Set<(value: T) => void>();

  connect(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
}
