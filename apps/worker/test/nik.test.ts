import t from 'tap'
import { checkNik } from '../src/handlers/nik.js'

t.test('valid NIKs', async (t) => {
  t.match(checkNik('3201011508900001'), { valid: true, sex: 'male', birthDate: { day: 15, month: 8, yearOfCentury: 90 } }, 'male, 15-08-90, West Java')
  t.match(checkNik('3201015508900001'), { valid: true, sex: 'female', birthDate: { day: 15, month: 8 } }, 'female: day + 40')
  t.match(checkNik('3171017112990123'), { valid: true, sex: 'female', birthDate: { day: 31, month: 12 } }, 'female born on the 31st (71)')
  t.match(checkNik('1101012902000001'), { valid: true }, '29 February of a leap year (00)')
  t.match(checkNik('9601010101010001'), { valid: true }, 'Papua Barat Daya (96)')
})

t.test('invalid NIKs say why without repeating the number', async (t) => {
  const cases: Record<string, RegExp> = {
    320101150890000: /16 digits/,
    '32010115089000011': /16 digits/,
    '32010115089O0001': /16 digits/,
    '0000000000000000': /province/,
    '9901011508900001': /province/,
    2001011508900001: /province/,
    3200001508900001: /regency or district/,
    3201013208900001: /birth day/,
    3201017208900001: /birth day/,
    3201010008900001: /birth day/,
    3201014008900001: /birth day/,
    3201013102900001: /birth day/,
    3201012902010001: /birth day/,
    3201011513900001: /birth month/,
    3201011500900001: /birth month/,
    3201011508900000: /serial/
  }
  for (const [nik, reason] of Object.entries(cases)) {
    const r = checkNik(nik)
    t.equal(r.valid, false, nik)
    if (!r.valid) {
      t.match(r.reason, reason, `${nik}: ${r.reason}`)
      t.notMatch(r.reason, nik.slice(0, 8), 'the reason does not repeat the NIK')
    }
  }
})
