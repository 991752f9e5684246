/**
 * Child processes of the bench (the subscriber and the baselines), forked with an IPC channel: the first message
 * is the child's "ready" report; after that every call() gets the next message as its answer (calls are queued).
 */
import { fork } from 'node:child_process'
import path from 'node:path'
import { ROOT } from './util.mjs'

export async function forkChild(name, args = [], { timeoutMs = 30_000 } = {}) {
  const child = fork(path.join(ROOT, 'bench', 'lib', name), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const waiting = []
  let exited = false
  child.on('message', (m) => waiting.shift()?.resolve(m))
  child.on('exit', (code) => {
    exited = true
    for (const w of waiting.splice(0)) w.reject(new Error(`${name} exited (code ${code}) before answering`))
  })
  const next = () =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`${name} has exited`))
      const timer = setTimeout(() => reject(new Error(`${name} did not answer within ${timeoutMs} ms`)), timeoutMs)
      waiting.push({ resolve: (m) => (clearTimeout(timer), resolve(m)), reject: (e) => (clearTimeout(timer), reject(e)) })
    })
  const ready = await next()
  return {
    ready,
    pid: child.pid,
    /** Sends a message and waits for the child's answer. */
    call(msg, waitMs) {
      const p = waitMs ? nextWithin(waitMs) : next()
      child.send(msg)
      return p
    },
    /** Waits for the next message the child sends by itself. */
    next,
    kill() {
      if (!exited) child.kill('SIGKILL')
    },
  }

  function nextWithin(ms) {
    return new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`${name} has exited`))
      const timer = setTimeout(() => reject(new Error(`${name} did not answer within ${ms} ms`)), ms)
      waiting.push({ resolve: (m) => (clearTimeout(timer), resolve(m)), reject: (e) => (clearTimeout(timer), reject(e)) })
    })
  }
}
