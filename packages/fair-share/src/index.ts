export { defineFairShareCommands, fairPriorities, returnFairTurn } from './fair-share.js'
