#!/usr/bin/python3
"""Writes tests/goldens/tokenizers/unicode_torture.txt: a text made to break tokenizers.

The text is committed; this generator documents what is in it (many characters are invisible or
look alike) and make-goldens.sh checks that it still reproduces the committed file byte for byte.
Every character is written as an escape where it is not plain ASCII, so this file is reviewable.

Deliberately absent: U+0085 and U+FEFF (JavaScript's \\s disagrees with Python/Rust about them, so
the JS references cannot vouch for them), NUL, unassigned code points, letters newer than
Unicode 6 (regex engines on older Unicode tables would disagree), and literal special-token
strings (<|endoftext|>, <s>, </s>, <unk>, <|...|>).

Usage: make_torture.py OUT_FILE
"""
import sys


def zalgo(word, seed):
    """Each letter followed by 3..11 combining marks from U+0300..U+036F (deterministic)."""
    out = []
    x = seed
    for ch in word:
        out.append(ch)
        x = (x * 1103515245 + 12345) % 2**31
        for _ in range(3 + x % 9):
            x = (x * 1103515245 + 12345) % 2**31
            out.append(chr(0x300 + x % 0x70))
    return "".join(out)


S = []
add = S.append

# --- start of text: leading whitespace and a lone combining mark (BOS-side edge cases) ---
add("   \u0301Leading spaces, then a combining acute on nothing.\n")
add("Title: The Unicode Torture Test\n\n")

# --- contractions in mixed case (GPT-2's pattern is case-sensitive, Llama 3's is not) ---
add("Contractions: don't DON'T Don'T I'm I'M you're YOU'RE You'Re we've WE'VE they'll THEY'LL "
    "she'd SHE'D it's IT'S 'S 'll 'LL 'VE 've 'Re 'rE 'D 'd 'M 't 'T.\n")
add("Odd ones: rock'n'roll o'clock y'all 'tis ''s '''ll 's's 'S'S ' s ' ll. "
    "Curly: don\u2019t it\u2019s \u2018quoted\u2019 \u201cdouble\u201d. "
    "Long s: '\u017f and '\u017fs; Kelvin \u212a; dotted \u0130 and dotless \u0131.\n")
add("James's JAMES'S dogs' DOGS' 'twas 'TWAS fo'c'sle Ma'am MA'AM.\n")
# o200k (gpt-oss) splits words where the case changes; titlecase letters (Lt) count as upper.
add("Case runs: HTTPServer XMLHttpRequest getHTTPResponseCode iPhone eBay McDonald's O'NEILL'S "
    "camelCase PascalCase snake_case SCREAMING_SNAKE kebab-case ABCdef aBC \u01c5ungla \u01c8ubljana "
    "\u00c9COLE \u00e9COLE \u0130stanbul \u03a3\u03bf\u03c6\u03af\u03b1 "
    "\u0394\u0399\u039a\u0391\u0399\u039f\u03a3\u03a5\u039d\u0397\n")
# DeepSeek-V3 keeps one ASCII punctuation character with the ASCII letters after it.
add("Prefixed words: .NET -rf --verbose @user #hashtag $HOME %PATH% ~/dir _private __dunder__ "
    "'quoted' \"dq\" (paren) [bracket] {brace} <angle> a/b/c ./run.sh ../up //comment\n\n")

# --- numbers and digit runs ---
add("Digits: " + " ".join("".join(str((i + k) % 10) for k in range(i)) for i in range(1, 26)) + "\n")
add("Powers: 2**1000 = " + str(2**1000) + "\n")
add("Pi: 3.14159265358979323846264338327950288419716939937510582097494459230781640628620899\n")
add("Mixed: 1,000,000 1.000.000,00 1e-10 6.022e23 -42 +7 0xDEADBEEF 0b1011 0o777 v1.2.3-rc.4 "
    "2024-06-01T12:34:56.789Z 12:00pm +1 (555) 123-4567 #1 No.7 3rd 21st 1/2 50% $3.50 \u20ac4,99\n")
add("Other digits: \u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669 "
    "\u06f0\u06f1\u06f2\u06f3 \u0966\u0967\u0968\u0969\u096a\u096b "
    "\u0e51\u0e52\u0e53 \uff11\uff12\uff13\uff14\uff15\uff16\uff17 "
    "x\u00b2 y\u00b3 10\u2079 H\u2082O \u00bd \u00bc \u00be \u2153 "
    "\u216b \u217b \u2460\u2461\u2473 \U0001d7ce\U0001d7cf\U0001d7d0 "
    "\u4e00\u4e8c\u4e09 \u3007\u3021\u3022\n")
add("Runs: " + "7" * 64 + " " + "0" * 33 + "1" + " " + "1234567890" * 7 + "\n\n")

# --- emoji ---
add("Emoji: \U0001f600\U0001f603\U0001f604 \U0001f999 \U0001f680 (normal) "
    "\U0001f636\u200d\U0001f32b\ufe0f (multiple emojis concatenated) \u2705 \u2714\ufe0f \u2611\ufe0f\n")
add("Skin tones: \U0001f44d \U0001f44d\U0001f3fb \U0001f44d\U0001f3fc \U0001f44d\U0001f3fd "
    "\U0001f44d\U0001f3fe \U0001f44d\U0001f3ff \U0001f44b\U0001f3fd\U0001f44b\U0001f3ff\n")
add("ZWJ: \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 "
    "\U0001f469\U0001f3fd\u200d\U0001f4bb \U0001f3f3\ufe0f\u200d\U0001f308 "
    "\U0001f3f4\u200d\u2620\ufe0f \u2764\ufe0f\u200d\U0001f525 \U0001f9d1\u200d\U0001f91d\u200d\U0001f9d1 "
    "\U0001f441\ufe0f\u200d\U0001f5e8\ufe0f\n")
add("Flags: \U0001f1ef\U0001f1f5\U0001f1fa\U0001f1f8\U0001f1e9\U0001f1ea\U0001f1eb\U0001f1f7"
    "\U0001f1e7\U0001f1f7 \U0001f1ee\U0001f1f3 \U0001f1fa\U0001f1e6 "
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f "
    "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f\n")
add("Keycaps and selectors: 1\ufe0f\u20e3 #\ufe0f\u20e3 *\ufe0f\u20e3 \u263a\ufe0e \u263a\ufe0f "
    "\u2603 \u2602\ufe0f \u00a9\ufe0f \u00ae \u2122\n")
add("Runs: " + "\U0001f525" * 9 + " " + "\U0001f602\U0001f923" * 5 + " " + "\u2764\ufe0f" * 4 +
    "!!!\U0001f389\U0001f389\n\n")

# --- CJK ---
add("Chinese: \u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002"
    "\u6211\u60f3\u5728apple\u5de5\u4f5c1314151\u5929\uff5e \u7e41\u9ad4\u4e2d\u6587\u5b57\u3002\n")
add("Hello, y'all! How are you \U0001f601 ?\u6211\u60f3\u5728apple\u5de5\u4f5c1314151\u5929\uff5e\n")
add("Japanese: \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3001\u30ab\u30bf\u30ab\u30ca"
    "\u3068\u3072\u3089\u304c\u306a\u3002\uff76\uff80\uff76\uff85 (halfwidth) "
    "\u3053\u3093\u306b\u3061\u306f\u3000\u4e16\u754c\u3000\u3000\u6771\u4eac\n")
add("Korean: \uc548\ub155\ud558\uc138\uc694 \uc138\uacc4! "
    "Jamo: \u1100\u1161\u11a8 \u110b\u1161\u11ab\u1102\u1167\u11bc\n")
add("Ext-B: \U0002000b\U0002123d\U0002131b \U00020bb7\u91ce\u5bb6 \u2e80\u2f00 \u3400\u4db5\n\n")

# --- right to left ---
add("Arabic: \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645! "
    "\u0627\u0644\u0639\u064e\u0631\u064e\u0628\u0650\u064a\u0651\u064e\u0629 "
    "\u0627\u0644\u0633\u0644\u0627\u0645 \u0639\u0644\u064a\u0643\u0645\u061f "
    "\u0661\u0662\u0663 \ufdfd \u0640\u0640\u0640\n")
add("Hebrew: \u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd \u05e2\u05d5\u05b9\u05dc\u05b8\u05dd "
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd. The word \u05e9\u05dc\u05d5\u05dd means peace "
    "(\u05e1\u05dc\u05d9\u05d7\u05d4, 2024).\n")
add("Bidi: \u200fRLM\u200f \u200eLRM\u200e \u202bembedded \u0639\u0631\u0628\u064a\u202c "
    "\u2067isolate\u2069 \u202eoverride\u202c end\n\n")

# --- Indic, South-East Asian and other scripts ---
add("Devanagari: \u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e\u0964 "
    "\u0915\u094d\u200d\u0937 \u0915\u094d\u200c\u0937 \u0915\u094d\u0937 "
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u0967\u0968\u0969\n")
add("Tamil: \u0ba4\u0bae\u0bbf\u0bb4\u0bcd Bengali: \u09ac\u09be\u0982\u09b2\u09be "
    "Gurmukhi: \u0a2a\u0a70\u0a1c\u0a3e\u0a2c\u0a40 Telugu: \u0c24\u0c46\u0c32\u0c41\u0c17\u0c41\n")
add("Thai: \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 "
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e07\u0e48\u0e32\u0e22\u0e46 "
    "Khmer: \u1780\u17b6\u1793\u17cb\u178f\u17c2\u1796\u17b7\u179f\u17c1\u179f"
    "\u17a2\u17b6\u1785\u1781\u179b\u1785\u17c1\u1789 "
    "Lao: \u0e9e\u0eb2\u0eaa\u0eb2\u0ea5\u0eb2\u0ea7 Myanmar: \u1019\u103c\u1014\u103a\u1019\u102c\n")
add("Cyrillic: \u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! "
    "\u043d\u0435\u0449\u043e \u043d\u0430 \u0411\u044a\u043b\u0433\u0430\u0440\u0441\u043a\u0438 "
    "\u0401\u0451\u0416\u0436 \u0490\u0491\u0404\u0454\n")
add("Greek: \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac (precomposed) "
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03b1\u0301 (decomposed) "
    "\u03c3\u03bf\u03c6\u03af\u03b1\u03c2 \u1f08\u1f00\u1fb7\n")
add("Others: \u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8 \u0540\u0561\u0575\u0565\u0580\u0565\u0576 "
    "\u1230\u120b\u121d \u13e3\u13b3\u13a9 \u1403\u14c4\u1483\u144e\u1450\u1466 "
    "\u16a0\u16a2\u16a6 \u0f56\u0f7c\u0f51\u0f0b \u1820\u1821\u1822\n\n")

# --- combining marks ---
add("Accents: cafe\u0301 vs caf\u00e9, n\u0303 vs \u00f1, A\u030a vs \u00c5 vs \u212b, "
    "Ti\u00ea\u0301ng Vi\u00ea\u0323t vs Tie\u0302\u0301ng Vie\u0323\u0302t, "
    "a\u20dd \u0065\u0308\u0304 o\u0328\u0304 \u0301\u0301 \u0301x\n")
add("Zalgo: " + zalgo("Zalgo", 7) + " " + zalgo("is", 11) + " " + zalgo("coming", 13) + " "
    + zalgo("\u0434\u0430", 17) + " " + zalgo("42", 19) + "\n")
add("Invisible: zero\u200bwidth soft\u00adhyphen word\u2060joiner a\u200cb a\u200db "
    "\u00a0\u200b\u00a0\n\n")

# --- whitespace ---
add("Tabs:\ta\tb\t\tc\t\t\td \t \t e\t\n")
add("Vertical\vtab and form\ffeed and\v\v\f mixed\f\n")
add("CRLF line one\r\nCRLF line two\r\n\r\nlone\rcarriage\r\rreturns\r\n")
add("NBSP:a\u00a0b\u00a0\u00a0c \u00a0 d. Em\u2003space, ideographic\u3000space\u3000\u3000. "
    "Line\u2028separator, paragraph\u2029separator. Narrow\u202fnbsp, math\u205fspace, "
    "ogham\u1680space. En\u2002quad\u2000em\u2001quad\u2004\u2005\u2006\u2007\u2008\u2009\u200a.\n")
for n in range(1, 21):
    add(" " * n + "x" + str(n) + " " * (n % 4) + "\n")
add("word" + " " * 17 + "word" + "\t" * 5 + "word" + " \t \u00a0 \u3000 " + "word\n")
add("\n" * 12 + "after twelve newlines\n \n \n  \n\t\n \t\n")
add("spaces before punctuation  ,  .   !    ?     ;\n")
add("trailing spaces   \ntrailing tab\t\n" + " " * 40 + "\n")
add("  \U0001f600  \u4e16\u754c  \u0639\u0631\u0628\u064a  123  ...  \n\n")

# --- code ---
add("```python\n"
    "def f(x: int, *args, **kwargs) -> dict[str, list[int]]:\n"
    "    \"\"\"Docstring with 'quotes' and \\\"escapes\\\".\"\"\"\n"
    "    if x >= 0 and x != 42 or not x:\n"
    "        return {'a': [1, 2, 3], \"b\": x ** 2 // 3 % 7}\n"
    "    lambda y: y @ x  # matmul\n"
    "\tmixed_indent = True\n"
    "    print(f\"{x!r:>10} {x=}\")\n"
    "```\n")
add("template <typename T, std::size_t N>\n"
    "std::vector<std::pair<int, std::array<T, N>>> v{{1, {}}};  // >> and >>=\n"
    "auto p = &v[0]->second; x <<= 2; y >>= 3; a->b.c::d; i++ + ++j; k-- - --l;\n"
    "#include <iostream>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))\n")
add("{\"key\": \"value\", \"nested\": {\"list\": [1, 2.5, -3e4, true, false, null], "
    "\"unicode\": \"\\u00e9\\ud83d\\ude00\", \"empty\": {}}}\n")
add("$ cat file.txt | grep -E '^[a-z]+$' | sort -u > out.txt 2>&1 && echo \"ok\" || exit 1\n")
add("regex: ^(?:[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)@[\\w.-]+\\.[a-z]{2,}$ \\d{3}-\\d{4} [^\\s\\p{L}]\n")
add("<div class=\"note\" id='x'>&amp; &lt;tag&gt; &nbsp; &#x1F600; &#128512;</div> <br/> <!-- c -->\n")
add("SELECT name, COUNT(*) AS n FROM users WHERE age >= 18 AND name LIKE 'A%' GROUP BY name;\n")
add("LaTeX: $\\frac{a}{b} + \\sum_{i=0}^{\\infty} x_i^2 \\leq \\int_0^1 f(x)\\,dx$\n")
add("| col1 | col2 |\n|------|:----:|\n| **b** | _i_ |\n")
add("--- a/file\n+++ b/file\n@@ -1,3 +1,4 @@\n-old line\n+new line\n")
add("C:\\Users\\name\\Documents\\file.txt /usr/local/lib/python3.11/site-packages/__init__.py\n\n")

# --- URLs ---
add("URLs: https://example.com/path/to/page?query=1&lang=en#frag "
    "http://user:pass@host.example.org:8080/a/b/../c/./d.html?x=%20y%3D&z=%E2%9C%93 "
    "ftp://ftp.example.net/pub/file-1.0.tar.gz mailto:someone@example.com "
    "https://\u4f8b\u3048.\u30c6\u30b9\u30c8/\u30d1\u30b9?q=\u00e9 "
    "https://en.wikipedia.org/wiki/Unicode_(disambiguation) "
    "www.example.co.uk/~user/index.php?id=123&amp;a[]=1\n\n")

# --- punctuation runs and symbols ---
add("Punctuation: !!!???... ?!?!?! ------ ====== ~~~ *** ___ \u2026 \u2014\u2014 \u2013 "
    "\u00ab\u00bb \u201e\u201c \u2039\u203a \u00a1\u00bf (((((( )))))) [[[]]] {{}} '''' \"\"\"\" "
    "```` ##### @@@ $$$ %%% ^^^ &&& ||| \\\\\\\\ //// ;;; ::: .,.,., <<>> <= >= != == === !== "
    "=> -> <- :: ... .... ..... \u3002\u3001\u300c\u300d\u300e\u300f\u3010\u3011\uff01\uff1f\n")
add("Math: \u2200x\u2208\u211d: x\u00b2\u22650 \u21d2 \u2211\u1d62 a\u1d62 \u2264 "
    "\u222b\u2080^\u221e f(x) dx \u2260 \u221e; \u03b1\u03b2\u03b3 \u2202\u2207\u221a\u221b "
    "\u2297\u2295 \u2227\u2228\u00ac \u2261\u2248\u221d \U0001d400\U0001d401\U0001d402 "
    "\U0001d54f \U0001d49c\n")
add("Symbols: \u2192\u2190\u2191\u2193\u2194 \u250c\u2500\u2510\u2502\u2514\u2518 "
    "\u2588\u2593\u2592\u2591 \u2813\u2811\u2807\u2807\u2815 \u20ac\u00a3\u00a5\u20b9\u20a9\u20bf\u00a2 "
    "\U0001d11e \u2669\u266a\u266b \u00a7\u00b6\u2020\u2021 \u00b0\u2032\u2033 \u2116 \u2103\n")
add("Fullwidth: \uff21\uff22\uff23 \uff41\uff42\uff43 \uff08\uff09\uff3b\uff3d "
    "Ligatures: \ufb01 \ufb02 \ufb00 \u0132 \u01c6 \u1e9e\u00df\n")
add("Controls: \x1b[31mred\x1b[0m bell\x07 del\x7f backspace\x08 \x01\x02\x1f "
    "private\ue000\uf8ff replacement\ufffd\n")
add("Near-misses: < s > <s >< /s> <un k> <|end of text|> |> <| endoftext |> <<s >> isn't special.\n")

# --- prose mixing it all ---
add("The caf\u00e9's na\u00efve r\u00e9sum\u00e9 (\u201cCV\u201d) cost \u20ac1,234.56 \u2014 or "
    "\u00a5123,456 \u2014 in 2024; she said: \u00ab\u00a0Bonjour\u00a0! \u00bb, "
    "\u4ed6\u8bf4\u201c\u4f60\u597d\u201d, \u0648\u0642\u0627\u0644 \u00ab\u0645\u0631\u062d\u0628\u0627\u00bb, "
    "and \U0001f44b\U0001f3fd waved.\n")
add("ALL CAPS SENTENCE WITH NUMBERS 123 AND CONTRACTIONS DON'T WON'T CAN'T SHOULDN'T'VE.\n")
add("lowercase sentence, with commas; semicolons: colons - dashes \u2013 and \u2014 em dashes...\n")

# --- end of text: trailing whitespace runs ---
add("\n\n\n   ")

text = "".join(S)
for bad in ("\u0085", "\ufeff", "\x00", "<s>", "</s>", "<unk>", "<|endoftext|>"):
    assert bad not in text, repr(bad)
with open(sys.argv[1], "wb") as f:
    f.write(text.encode("utf-8"))
