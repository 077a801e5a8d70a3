/** Keeps the last 16 KiB of a child's output, to show when it fails. */
export class Tail {
  private readonly parts: string[] = [];
  private bytes = 0;

  add(data: Buffer): void {
    const text = data.toString('utf8');
    this.parts.push(text);
    this.bytes += text.length;
    while (this.bytes > 16 * 1024 && this.parts.length > 1) this.bytes -= this.parts.shift()!.length;
  }

  text(): string {
    return this.parts.join('').trim();
  }
}
