/**
 * A doubly linked list of nodes for the simulator's reference policies (clarity over speed:
 * one object per node). `head` is the young end (most recently inserted), `tail` the old end.
 */
export interface ListNode<K> {
  key: K;
  size: number;
  prev: ListNode<K> | undefined; // towards the tail (older)
  next: ListNode<K> | undefined; // towards the head (younger)
  /** Which list holds the node (policies use it to tell their lists apart). */
  list: LinkedList<K> | undefined;
  /** Policy-specific flag or counter (SIEVE's visited bit, W-TinyLFU's nothing). */
  mark: number;
}

export class LinkedList<K> {
  head: ListNode<K> | undefined;
  tail: ListNode<K> | undefined;
  bytes = 0;
  length = 0;

  constructor(readonly name: string) {}

  pushHead(node: ListNode<K>): void {
    node.list = this;
    node.next = undefined;
    node.prev = this.head;
    if (this.head) this.head.next = node;
    else this.tail = node;
    this.head = node;
    this.bytes += node.size;
    this.length++;
  }

  unlink(node: ListNode<K>): void {
    if (node.prev) node.prev.next = node.next;
    else this.tail = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.head = node.prev;
    node.prev = node.next = undefined;
    node.list = undefined;
    this.bytes -= node.size;
    this.length--;
  }

  popTail(): ListNode<K> | undefined {
    const node = this.tail;
    if (node) this.unlink(node);
    return node;
  }

  moveToHead(node: ListNode<K>): void {
    this.unlink(node);
    this.pushHead(node);
  }

  clear(): void {
    this.head = this.tail = undefined;
    this.bytes = 0;
    this.length = 0;
  }
}

export function newNode<K>(key: K, size: number): ListNode<K> {
  return { key, size, prev: undefined, next: undefined, list: undefined, mark: 0 };
}
